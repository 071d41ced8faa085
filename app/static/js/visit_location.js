// The carer's check-in and check-out forms: fill the hidden lat/lon/accuracy inputs from
// the phone's Geolocation API.  Without JavaScript or permission the form still posts,
// with an empty location (recorded as "no location" and flagged on the server).
(function () {
  "use strict";
  var forms = document.querySelectorAll("form[data-visit-location]");
  if (!forms.length || !("geolocation" in navigator)) { return; }
  var status = document.documentElement.lang && document.documentElement.lang.indexOf("zh") === 0
    ? { asking: "正在获取位置…", found: "已获取位置（精度约 %s 米）", failed: "未能获取位置，仍可提交（将记录为无位置）" }
    : { asking: "Finding your location…", found: "Location found (about %s m accurate)", failed: "No location: you can still submit (recorded without one)" };
  function fill(position) {
    forms.forEach(function (form) {
      form.querySelector("[data-geo=lat]").value = position.coords.latitude.toFixed(6);
      form.querySelector("[data-geo=lon]").value = position.coords.longitude.toFixed(6);
      form.querySelector("[data-geo=accuracy]").value = Math.round(position.coords.accuracy || 0);
      var note = form.querySelector("[data-geo=status]");
      if (note) { note.textContent = status.found.replace("%s", Math.round(position.coords.accuracy || 0)); }
      form.setAttribute("data-located", "yes");
    });
  }
  function failed() {
    forms.forEach(function (form) {
      var note = form.querySelector("[data-geo=status]");
      if (note) { note.textContent = status.failed; }
      form.setAttribute("data-located", "no");
    });
  }
  forms.forEach(function (form) {
    var note = form.querySelector("[data-geo=status]");
    if (note) { note.textContent = status.asking; }
  });
  navigator.geolocation.getCurrentPosition(fill, failed, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
})();
