// The staff pages' behaviour. No inline scripts anywhere: this file is all there is.
(function () {
  "use strict";

  // The server ends a login after 15 minutes without a request. A page left open past then
  // goes to the login page by itself, which takes the patient's data off the screen.
  document.addEventListener("DOMContentLoaded", function () {
    var body = document.body;
    var seconds = Number(body.dataset.idleSeconds || 0);
    if (!seconds || !body.dataset.loginUrl) return;
    window.setTimeout(function () { window.location.replace(body.dataset.loginUrl); }, seconds * 1000);
  });
})();
