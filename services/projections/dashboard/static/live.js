// The live page: follows the server-sent events of /boards/live and refreshes the figures.
const status = document.getElementById("live-status");
const feed = new EventSource("/boards/live");
feed.addEventListener("ready", () => { status.textContent = "live"; status.className = "govuk-tag govuk-tag--green"; });
feed.onerror = () => { status.textContent = "reconnecting"; status.className = "govuk-tag govuk-tag--yellow"; };
feed.addEventListener("changed", async (message) => {
  const change = JSON.parse(message.data);
  const item = document.createElement("li");
  item.textContent = `${new Date(change.at).toLocaleTimeString("en-GB")}: ${change.event_type}`;
  document.getElementById("live-log").prepend(item);
  await refresh();
});
// The page fell behind (the server keeps a bounded queue per client): the server closes the
// stream, the browser reconnects, and the figures are fetched afresh.
feed.addEventListener("reload", refresh);
async function refresh() {
  const response = await fetch("/dashboard/live/figures" + window.location.search);
  document.getElementById("live-figures").innerHTML = await response.text();
}
