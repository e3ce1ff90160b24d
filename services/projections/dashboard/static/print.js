// A page's Print buttons (no inline script: the Content-Security-Policy forbids them). The
// button shows only where scripts run (print.css); without them the browser's own print works.
for (const button of document.querySelectorAll('[data-app-print]')) {
  button.addEventListener('click', () => window.print());
}
