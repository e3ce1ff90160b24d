// The live page: follows the server-sent events of /boards/live. When the attention queue
// changes ("attention") the queue is fetched again, when a board changes ("changed") the
// headline figures. One fetch of each at a time: changes that come while one is under way
// are answered by one more fetch after it, however many they were.
const status = document.getElementById("live-status");
const announce = document.getElementById("attention-announce");
const queue = document.getElementById("attention");
const figures = document.getElementById("live-figures");

function coalesced(show) {
  let running = false;
  let again = false;
  return async function run() {
    if (running) { again = true; return; }
    running = true;
    try {
      do { again = false; await show(); } while (again);
    } finally {
      running = false;
    }
  };
}

// Someone typing a worker's id or on an Acknowledge button: the queue is not redrawn under
// them (they would lose their place and what they typed); it is redrawn once they leave it.
let deferred = false;
function busy() {
  const here = document.activeElement;
  return here !== null && queue.contains(here) && here.closest("form") !== null;
}
queue.addEventListener("focusout", () => {
  setTimeout(() => { if (deferred && !busy()) { deferred = false; refreshQueue(); } }, 0);
});

let count = queue.querySelector("[data-attention-count]")?.dataset.attentionCount;
const refreshQueue = coalesced(async () => {
  if (busy()) { deferred = true; return; }
  const response = await fetch("/dashboard/live/attention" + window.location.search);
  if (!response.ok) return;
  const fetched = document.createElement("template");
  fetched.innerHTML = await response.text();
  const shown = queue.querySelector("[data-attention-version]")?.dataset.attentionVersion;
  if (fetched.content.firstElementChild?.dataset.attentionVersion === shown) return;  // as shown
  if (busy()) { deferred = true; return; }
  queue.replaceChildren(fetched.content);
  const now = queue.querySelector("[data-attention-count]")?.dataset.attentionCount;
  if (now && now !== count) {  // said once when the number changes, not at every redraw
    announce.textContent = `${now} ${now === "1" ? "item needs" : "items need"} a person`;
  }
  count = now;
});
const refreshFigures = coalesced(async () => {
  const response = await fetch("/dashboard/live/figures" + window.location.search);
  if (response.ok) figures.innerHTML = await response.text();
});

const feed = new EventSource("/boards/live");
feed.addEventListener("ready", () => {
  status.textContent = "live";
  status.className = "govuk-tag govuk-tag--green";
  // A change may have come while the page loaded or the feed reconnected: the figures and
  // the queue were drawn before the feed was joined.
  refreshQueue();
  refreshFigures();
});
feed.onerror = () => { status.textContent = "reconnecting"; status.className = "govuk-tag govuk-tag--yellow"; };
feed.addEventListener("attention", refreshQueue);
feed.addEventListener("changed", refreshFigures);
// The page fell behind (the server keeps a bounded queue per client): the server closes the
// stream, the browser reconnects, and everything is fetched afresh.
feed.addEventListener("reload", () => { refreshQueue(); refreshFigures(); });
