// "Use this phone's location" on the home-location form: asks the browser for the
// device's position (the Geolocation API, no map service) and fills the latitude,
// longitude and accuracy fields; the person then ticks consent and saves.  Typing
// into the coordinates afterwards makes them "entered" again.  Without this script
// (or without permission) the coordinates can still be typed.
(function () {
  function setUp(form) {
    var button = form.querySelector("[data-home-locate]");
    var status = form.querySelector("[data-home-status]");
    var lat = form.querySelector("input[name=lat]");
    var lon = form.querySelector("input[name=lon]");
    var accuracy = form.querySelector("input[name=accuracy]");
    var method = form.querySelector("input[name=method]");
    if (!button || !lat || !lon) { return; }
    if (!("geolocation" in navigator)) { button.hidden = true; return; }
    function typed() { method.value = "entered"; accuracy.value = ""; }
    lat.addEventListener("input", typed);
    lon.addEventListener("input", typed);
    button.addEventListener("click", function () {
      status.textContent = button.dataset.locating;
      button.disabled = true;
      navigator.geolocation.getCurrentPosition(function (position) {
        lat.value = position.coords.latitude.toFixed(6);
        lon.value = position.coords.longitude.toFixed(6);
        accuracy.value = Math.round(position.coords.accuracy);
        method.value = "device";
        status.textContent = button.dataset.found.replace("__M__", accuracy.value);
        button.disabled = false;
        form.dataset.located = "1";
      }, function () {
        status.textContent = button.dataset.failed;
        button.disabled = false;
      }, {enableHighAccuracy: true, timeout: 20000, maximumAge: 0});
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var forms = document.querySelectorAll("form.home-location");
    for (var i = 0; i < forms.length; i++) { setUp(forms[i]); }
  });
})();
