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
// A page answering a refused form: focus the first field at fault (the page scrolls there,
// an upload field included), or the summary when the fault has no field of its own.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.querySelector("[data-error-summary]");
  if (!summary) { return; }
  var first = document.querySelector("[aria-invalid=true], .has-error input, .has-error select, .has-error textarea");
  (first || summary).focus();
});
