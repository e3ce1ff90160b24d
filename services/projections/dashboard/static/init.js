import { initAll } from '/static/govuk/govuk-frontend.min.js';
initAll();
