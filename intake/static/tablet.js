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

  // A follow-up question (`data-shown-when` = the name of a yes/no question) shows only while
  // that question is answered "yes"; without scripts it is always shown.
  function followUps() {
    document.querySelectorAll("[data-shown-when]").forEach(function (part) {
      var radios = document.querySelectorAll("input[name='" + part.dataset.shownWhen + "']");
      function update() {
        var yes = Array.prototype.some.call(radios, function (r) { return r.checked && r.value === "yes"; });
        part.hidden = !yes;
      }
      radios.forEach(function (r) { r.addEventListener("change", update); });
      update();
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

  // A date of birth typed in the page language's order (month/day/year in English, day/month/
  // year in Spanish) or YYYY-MM-DD, as intake/tablet/dates.py reads it; null if not a date.
  function typedDate(text, lang) {
    var iso = /^(\d{4})-(\d{2})-(\d{2})$/.exec(text.trim());
    var typed = /^(\d{1,2})\s*[\/.\-\s]\s*(\d{1,2})\s*[\/.\-\s]\s*(\d{4})$/.exec(text.trim());
    var y, m, d;
    if (iso) { y = +iso[1]; m = +iso[2]; d = +iso[3]; }
    else if (typed) {
      y = +typed[3];
      if (lang.slice(0, 2) === "es") { d = +typed[1]; m = +typed[2]; } else { m = +typed[1]; d = +typed[2]; }
    } else return null;
    var when = new Date(y, m - 1, d);
    return when.getFullYear() === y && when.getMonth() === m - 1 && when.getDate() === d ? when : null;
  }

  // A date of birth in the future is refused as the field is left, before anything is sent.
  function checkDateOfBirth() {
    document.querySelectorAll("input[data-date-of-birth]").forEach(function (input) {
      var live = document.createElement("p");
      live.className = "error";
      live.id = input.id + "-live";
      live.setAttribute("aria-live", "polite");
      live.hidden = true;
      input.parentNode.insertBefore(live, input);
      var described = input.getAttribute("aria-describedby") || "";
      input.addEventListener("blur", function () {
        var born = typedDate(input.value, document.documentElement.lang || "en");
        var future = born !== null && born > new Date();
        live.textContent = future ? input.dataset.future : "";
        live.hidden = !future;
        input.closest(".field").classList.toggle("has-error", future || input.getAttribute("aria-invalid") === "true");
        if (future) {
          input.setAttribute("aria-invalid", "true");
          input.setAttribute("aria-describedby", (described + " " + live.id).trim());
        } else if (!input.closest(".field").querySelector("#" + input.id + "-error")) {
          input.removeAttribute("aria-invalid");
          if (described) input.setAttribute("aria-describedby", described); else input.removeAttribute("aria-describedby");
        }
      });
    });
  }
  window.typedDate = typedDate;

  // The larger-text switch changes the page at once and keeps the choice in the session in the
  // background, so nothing typed on the page is lost.
  function textSize() {
    document.querySelectorAll("form[data-text-size]").forEach(function (form) {
      var button = form.querySelector("button[name=size]");
      form.addEventListener("submit", function (event) {
        if (typeof window.fetch !== "function") return;
        event.preventDefault();
        var large = button.value === "large";
        document.documentElement.classList.toggle("text-large", large);
        button.setAttribute("aria-pressed", large ? "true" : "false");
        button.value = large ? "normal" : "large";
        var body = new FormData(form);
        body.set("size", large ? "large" : "normal");
        window.fetch(form.action, {
          method: "POST", body: body, credentials: "same-origin",
          headers: { "X-Requested-With": "fetch" }
        });
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
    checkDateOfBirth();
    textSize();
    countDown();
    watchIdle();
    confirmButtons();
    submitOnce();
    focusErrors();
    followUps();
  });
})();
