// The tablet flow's behaviour: idle timeout, confirmations, focus on errors, single submit.
// No inline scripts anywhere: everything is wired up here from data attributes.
(function () {
  "use strict";

  // After `data-idle-seconds` without a touch, ask "Are you still there?"; after
  // `data-warning-seconds` more, wipe the draft. With no warning time, wipe straight away.
  function watchIdle() {
    var body = document.body;
    var idleSeconds = Number(body.dataset.idleSeconds || 0);
    var warningSeconds = Number(body.dataset.warningSeconds || 0);
    var wipeForm = document.getElementById("wipe-form");
    var dialog = document.getElementById("idle-dialog");
    if (!idleSeconds || !wipeForm) return;
    var countdown = document.getElementById("idle-countdown");
    var idleTimer = null;
    var tick = null;
    var wiping = false;

    function wipe() {
      if (wiping) return;
      wiping = true;
      HTMLFormElement.prototype.submit.call(wipeForm);
    }

    function warn() {
      if (!warningSeconds || !dialog || typeof dialog.showModal !== "function") {
        wipe();
        return;
      }
      var left = warningSeconds;
      countdown.textContent = String(left);
      dialog.showModal();
      tick = window.setInterval(function () {
        left -= 1;
        countdown.textContent = String(Math.max(left, 0));
        if (left <= 0) wipe();
      }, 1000);
    }

    function restart() {
      if (wiping || (dialog && dialog.open)) return;
      window.clearTimeout(idleTimer);
      idleTimer = window.setTimeout(warn, idleSeconds * 1000);
    }

    if (dialog) {
      document.getElementById("idle-continue").addEventListener("click", function () {
        window.clearInterval(tick);
        dialog.close();
        restart();
      });
      // Escape closes a modal dialog; treat it like "I'm still here".
      dialog.addEventListener("cancel", function () {
        window.clearInterval(tick);
        window.setTimeout(restart, 0);
      });
    }
    ["pointerdown", "keydown", "input", "scroll", "wheel"].forEach(function (type) {
      window.addEventListener(type, restart, { passive: true, capture: true });
    });
    restart();
  }

  function confirmButtons() {
    document.querySelectorAll("[data-confirm]").forEach(function (button) {
      button.addEventListener("click", function (event) {
        if (!window.confirm(button.dataset.confirm)) event.preventDefault();
      });
    });
  }

  // A second tap on Submit while the first is on its way does nothing (the server also makes
  // exactly one consent per draft, whatever arrives).
  function submitOnce() {
    document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.sent) {
          event.preventDefault();
          return;
        }
        form.dataset.sent = "1";
        form.querySelectorAll("button[type=submit]").forEach(function (b) {
          b.setAttribute("aria-disabled", "true");
        });
      });
    });
  }

  // Focus the error summary; its links move focus to the field without touching the URL (a
  // fragment would otherwise stay on every later page of the flow).
  function focusErrors() {
    var summary = document.getElementById("error-summary");
    if (!summary || summary.hidden) return;
    summary.focus();
    summary.querySelectorAll("a[href^='#']").forEach(function (link) {
      link.addEventListener("click", function (event) {
        var target = document.getElementById(link.getAttribute("href").slice(1));
        if (!target) return;
        event.preventDefault();
        target.scrollIntoView({ block: "center" });
        target.focus();
      });
    });
  }

  // Return (or the keyboard's Next/Go) in a field moves to the next field: a step is sent only
  // by its buttons, never half-filled from the first field. A text area keeps its new lines.
  function returnMovesOn() {
    document.querySelectorAll("main form").forEach(function (form) {
      form.addEventListener("keydown", function (event) {
        var field = event.target;
        if (event.key !== "Enter" || event.isComposing || field.tagName !== "INPUT") return;
        event.preventDefault();
        var fields = Array.prototype.filter.call(form.elements, function (f) {
          return !f.disabled && f.type !== "hidden" && f.tabIndex >= 0 && f.getClientRects().length &&
            (f.tagName === "INPUT" || f.tagName === "TEXTAREA" || f.tagName === "SELECT" || f === field);
        });
        var next = fields[fields.indexOf(field) + 1];
        while (next && next.type === "radio" && next.name === field.name) {
          next = fields[fields.indexOf(next) + 1];
        }
        if (next) next.focus();
      });
    });
  }

  // The thank-you screen's countdown to clearing itself, restarted by a touch as the wipe is.
  function countDown() {
    var shown = document.getElementById("clear-countdown");
    var seconds = Number(document.body.dataset.idleSeconds || 0);
    if (!shown || !seconds) return;
    var left = seconds;
    ["pointerdown", "keydown"].forEach(function (type) {
      window.addEventListener(type, function () { left = seconds; shown.textContent = String(left); },
        { passive: true, capture: true });
    });
    window.setInterval(function () {
      left = Math.max(left - 1, 0);
      shown.textContent = String(left);
    }, 1000);
  }

  document.addEventListener("DOMContentLoaded", function () {
    returnMovesOn();
    countDown();
    watchIdle();
    confirmButtons();
    submitOnce();
    focusErrors();
  });
})();
