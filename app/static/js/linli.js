// Feedback on every action: a submitted form's button says it is working and
// cannot be pressed twice.  Pages work without this script.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var button = event.submitter || form.querySelector("button[type=submit]");
  if (!button || button.dataset.busy === undefined) { return; }
  if (form.dataset.submitted === "1") { event.preventDefault(); return; }
  form.dataset.submitted = "1";
  button.setAttribute("aria-busy", "true");
  button.textContent = button.dataset.busy;
});
document.addEventListener("click", function (event) {
  var target = event.target.closest("[data-confirm]");
  if (target && !window.confirm(target.dataset.confirm)) { event.preventDefault(); }
});
// A page that answers a form sent by POST (a refused form shown again): the server names the
// address a reload should ask for (<body data-answers-post="/provider/documents"> is the form's
// own address when it answers a GET, else the page that showed the form; app/reloads.py).  The
// history entry becomes a plain visit of it, so reloading asks for that page afresh (a GET, a
// blank form), never a 405, and the browser never offers to send the form again.
(function () {
  var target = document.body && document.body.getAttribute("data-answers-post");
  if (!target || target.charAt(0) !== "/" || target.charAt(1) === "/" || !window.history.replaceState) { return; }
  window.history.replaceState(null, "", target + window.location.hash);
})();
document.addEventListener("DOMContentLoaded", function () {
  // A page answering a refused form: focus the first field at fault (the page scrolls there,
  // an upload field included), or the summary when the fault has no field of its own.
  var summary = document.querySelector("[data-error-summary]");
  if (summary) {
    var first = document.querySelector("[aria-invalid=true], .has-error input, .has-error select, .has-error textarea");
    (first || summary).focus();
  }
  // Tables become cards on a narrow screen (linli.css): each cell is labelled with its
  // column's heading.  Without this script a table stays a table that scrolls sideways.
  document.querySelectorAll("table").forEach(function (table) {
    if (table.hasAttribute("data-no-cards")) { return; }
    var headings = table.querySelectorAll("thead tr:last-child th");
    if (!headings.length) { return; }
    var labels = [];
    headings.forEach(function (th) {
      var span = parseInt(th.getAttribute("colspan") || "1", 10);
      for (var i = 0; i < span; i++) { labels.push(th.textContent.replace(/\s+/g, " ").trim()); }
    });
    table.querySelectorAll("tbody tr, tfoot tr").forEach(function (row) {
      var column = 0;
      Array.prototype.forEach.call(row.children, function (cell) {
        if (!cell.hasAttribute("data-label")) { cell.setAttribute("data-label", labels[column] || ""); }
        column += parseInt(cell.getAttribute("colspan") || "1", 10);
      });
    });
    table.classList.add("cards-on-phone");
  });
  // The menu of pages: always open on a wide screen (for browsers that cannot show a closed
  // <details>' content), closed by Escape on a phone; the current page is marked.
  var menu = document.querySelector("[data-menu]");
  if (menu) {
    var wide = window.matchMedia("(min-width: 48rem)");
    var place = function () { menu.open = wide.matches; };
    place();
    if (wide.addEventListener) { wide.addEventListener("change", place); }
    document.addEventListener("keydown", function (event) {
      if (event.key === "Escape" && menu.open && !wide.matches) {
        menu.open = false;
        menu.querySelector("summary").focus();
      }
    });
  }
  document.querySelectorAll("#main-nav a").forEach(function (link) {
    if (link.getAttribute("href") === window.location.pathname) { link.setAttribute("aria-current", "page"); }
  });
});
