// The booking form's day strip without a reload: a day's link fetches the same page for that
// day and swaps in its times (the address and note typed stay as they are); a chosen time
// says until when cancelling it is free, or what it costs.  Without this script the links
// load the page for the day and the form works the same.
(function () {
  function terms(form) {
    var line = form.querySelector("#slot-terms");
    var chosen = form.querySelector("input[name=starts_at]:checked");
    if (!line || !chosen) { return; }
    line.textContent = chosen.dataset.terms;
    line.classList.toggle("slot-terms-fee", chosen.closest(".slot").classList.contains("slot-fee"));
  }
  document.addEventListener("change", function (event) {
    if (event.target.name === "starts_at") { terms(event.target.form); }
  });
  document.addEventListener("click", function (event) {
    var link = event.target.closest("#day-strip a[data-day]");
    if (!link || event.metaKey || event.ctrlKey || event.shiftKey) { return; }
    var picker = document.getElementById("slot-picker");
    var day = document.getElementById("chosen-day");
    if (!picker || !window.fetch || !window.DOMParser) { return; }
    event.preventDefault();
    var strip = document.getElementById("day-strip");
    var scroll = strip ? strip.scrollLeft : 0;
    fetch(link.href, {credentials: "same-origin"}).then(function (response) {
      if (!response.ok) { throw new Error(response.status); }
      return response.text();
    }).then(function (html) {
      var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("slot-picker");
      if (!fresh) { throw new Error("no picker"); }
      picker.replaceWith(fresh);
      if (day) { day.value = link.dataset.day; }
      var newStrip = document.getElementById("day-strip");
      if (newStrip) { newStrip.scrollLeft = scroll; }
      var current = document.querySelector("#day-strip a[aria-current]");
      if (current) { current.focus(); }
      history.replaceState(null, "", link.href);
    }).catch(function () { window.location.href = link.href; });
  });
})();
