// The carer's check-in and check-out forms: fill the hidden lat/lon/accuracy inputs from
// the phone's Geolocation API.  Without JavaScript or permission the form still posts,
// with an empty location (recorded as "no location" and flagged on the server).
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-visit-location]");
  if (!forms.length || !("geolocation" in navigator)) { return; }
  function fill(position) {
    forms.forEach(function (form) {
      form.querySelector("[data-geo=lat]").value = position.coords.latitude.toFixed(6);
      form.querySelector("[data-geo=lon]").value = position.coords.longitude.toFixed(6);
      form.querySelector("[data-geo=accuracy]").value = Math.round(position.coords.accuracy || 0);
      var note = form.querySelector("[data-geo=status]");
      if (note) { note.textContent = (note.getAttribute("data-found") || "").replace("%s", Math.round(position.coords.accuracy || 0)); }
      form.setAttribute("data-located", "yes");
    });
  }
  function failed() {
    forms.forEach(function (form) {
      var note = form.querySelector("[data-geo=status]");
      if (note) { note.textContent = note.getAttribute("data-failed"); }
      form.setAttribute("data-located", "no");
    });
  }
  forms.forEach(function (form) {
    var note = form.querySelector("[data-geo=status]");
    if (note) { note.textContent = note.getAttribute("data-asking"); }
  });
  navigator.geolocation.getCurrentPosition(fill, failed, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
})();
