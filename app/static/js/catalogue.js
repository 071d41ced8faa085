// The catalogue's filters (providers/templates/providers/_catalogue_body.html): folded under
// "Filter" on a phone so the results start on the first screen, always open on a wide screen.
(function () {
  "use strict";
  var fold = document.getElementById("filter-fold");
  if (!fold || !window.matchMedia) return;
  var wide = window.matchMedia("(min-width: 48rem)");
  function apply() {
    fold.classList.toggle("always-open", wide.matches);
    if (wide.matches) fold.open = true;
  }
  apply();
  if (wide.addEventListener) wide.addEventListener("change", apply);
})();
