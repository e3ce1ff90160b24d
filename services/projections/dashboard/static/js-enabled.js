// Runs first in <body>, before anything renders: the GOV.UK Frontend classes that say
// JavaScript is available (no inline script, so the Content-Security-Policy can forbid them).
document.body.className += ' js-enabled govuk-frontend-supported';
