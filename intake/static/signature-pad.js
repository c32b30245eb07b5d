// The signature pad: Pointer Events (finger, stylus, mouse), smooth strokes, Undo and Clear.
//
// Strokes are kept in the pad's own coordinates (`data-width` x `data-height`, origin top left),
// whatever the canvas's size on screen, so rotating the tablet only redraws them. They go to the
// server as {"width", "height", "strokes": [[[x, y], ...], ...]} in the hidden input.
(function () {
  "use strict";

  var MAX_POINTS_PER_STROKE = 5000;
  var MAX_STROKES = 100;
  var MAX_POINTS = 20000; // in all strokes together, as the server allows

  function SignaturePad(root) {
    this.root = root;
    this.canvas = root.querySelector("canvas");
    this.input = root.querySelector("[data-pad-input]");
    this.message = root.querySelector("[data-pad-message]");
    this.width = Number(root.dataset.width);
    this.height = Number(root.dataset.height);
    this.minExtent = Number(root.dataset.minExtent);
    this.strokes = [];
    this.current = null;
    this.load();
    this.bind();
    this.resize();
    // A pad the server refused says why beside it, as it does before sending.
    if (root.classList.contains("has-error")) this.say(this.problem(), true);
  }

  SignaturePad.prototype.load = function () {
    try {
      var saved = JSON.parse(this.input.value || "{}");
      if (saved.width === this.width && saved.height === this.height && Array.isArray(saved.strokes)) {
        this.strokes = saved.strokes;
      }
    } catch (e) {
      this.strokes = [];
    }
  };

  // What the pad says, in the page's language: the template puts each message in a
  // `data-say-*` attribute of the pad (English here only if one is missing).
  var ENGLISH = {
    removed: "Last stroke removed.",
    empty: "The pad is empty.",
    unsigned: "Please sign on the pad.",
    small: "That is too small to be a signature. Please sign again.",
  };
  SignaturePad.prototype.words = function (key) {
    return this.root.getAttribute("data-say-" + key) || ENGLISH[key];
  };

  SignaturePad.prototype.save = function () {
    this.input.value = JSON.stringify({ width: this.width, height: this.height, strokes: this.strokes });
  };

  SignaturePad.prototype.bind = function () {
    var pad = this;
    var canvas = this.canvas;
    canvas.addEventListener("pointerdown", function (e) {
      if (e.button !== 0 || pad.current || pad.strokes.length >= MAX_STROKES) return;
      e.preventDefault();
      canvas.setPointerCapture(e.pointerId);
      pad.pointerId = e.pointerId;
      pad.current = [];
      pad.strokes.push(pad.current);
      pad.add(e);
      pad.say("");
      pad.root.classList.remove("has-error");
    });
    canvas.addEventListener("pointermove", function (e) {
      if (!pad.current || e.pointerId !== pad.pointerId) return;
      e.preventDefault();
      var events = typeof e.getCoalescedEvents === "function" ? e.getCoalescedEvents() : [];
      (events.length ? events : [e]).forEach(function (ev) { pad.add(ev); });
      pad.draw();
    });
    function end(e) {
      if (!pad.current || e.pointerId !== pad.pointerId) return;
      pad.current = null;
      pad.save();
      pad.draw();
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    this.root.querySelector("[data-pad-undo]").addEventListener("click", function () {
      pad.strokes.pop();
      pad.save();
      pad.draw();
      pad.say(pad.strokes.length ? pad.words("removed") : pad.words("empty"));
    });
    this.root.querySelector("[data-pad-clear]").addEventListener("click", function () {
      pad.strokes = [];
      pad.save();
      pad.draw();
      pad.say(pad.words("empty"));
    });
    if (typeof ResizeObserver === "function") {
      new ResizeObserver(function () { pad.resize(); }).observe(canvas);
    } else {
      window.addEventListener("resize", function () { pad.resize(); });
    }
  };

  SignaturePad.prototype.pointCount = function () {
    return this.strokes.reduce(function (n, s) { return n + s.length; }, 0);
  };

  // A pointer position in pad coordinates, kept inside the pad, one decimal place.
  SignaturePad.prototype.add = function (e) {
    if (this.current.length >= MAX_POINTS_PER_STROKE) return;
    if (this.pointCount() >= MAX_POINTS) return;
    var box = this.canvas.getBoundingClientRect();
    if (!box.width || !box.height) return;
    var x = ((e.clientX - box.left) / box.width) * this.width;
    var y = ((e.clientY - box.top) / box.height) * this.height;
    x = Math.round(Math.min(Math.max(x, 0), this.width) * 10) / 10;
    y = Math.round(Math.min(Math.max(y, 0), this.height) * 10) / 10;
    var last = this.current[this.current.length - 1];
    if (last && Math.abs(last[0] - x) + Math.abs(last[1] - y) < 0.8) return;
    this.current.push([x, y]);
  };

  SignaturePad.prototype.resize = function () {
    var box = this.canvas.getBoundingClientRect();
    var ratio = window.devicePixelRatio || 1;
    this.canvas.width = Math.max(1, Math.round(box.width * ratio));
    this.canvas.height = Math.max(1, Math.round(box.height * ratio));
    this.draw();
  };

  // A stroke's cubic Béziers [c1x, c1y, c2x, c2y, x, y]: the Catmull-Rom spline through its
  // points, the same curve the review (SVG) and the PDF draw.
  function catmullRom(s) {
    var out = [];
    for (var i = 0; i < s.length - 1; i++) {
      var p0 = s[i > 0 ? i - 1 : i], p1 = s[i], p2 = s[i + 1], p3 = s[i + 2 < s.length ? i + 2 : i + 1];
      out.push([p1[0] + (p2[0] - p0[0]) / 6, p1[1] + (p2[1] - p0[1]) / 6,
                p2[0] - (p3[0] - p1[0]) / 6, p2[1] - (p3[1] - p1[1]) / 6, p2[0], p2[1]]);
    }
    return out;
  }
  window.signatureCurve = catmullRom;

  SignaturePad.prototype.draw = function () {
    var ctx = this.canvas.getContext("2d");
    var sx = this.canvas.width / this.width;
    var sy = this.canvas.height / this.height;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.setTransform(sx, 0, 0, sy, 0, 0);
    ctx.lineWidth = 2.6;
    ctx.lineCap = "round";
    ctx.lineJoin = "round";
    ctx.strokeStyle = "#0a1f44";
    ctx.fillStyle = "#0a1f44";
    this.strokes.forEach(function (s) {
      if (!s.length) return;
      ctx.beginPath();
      ctx.moveTo(s[0][0], s[0][1]);
      if (s.length === 1) {
        ctx.lineTo(s[0][0] + 0.01, s[0][1]);
      } else {
        catmullRom(s).forEach(function (c) { ctx.bezierCurveTo(c[0], c[1], c[2], c[3], c[4], c[5]); });
      }
      ctx.stroke();
    });
  };

  SignaturePad.prototype.say = function (text, isError) {
    this.message.textContent = text;
    this.message.classList.toggle("is-error", Boolean(isError));
  };

  // Why this signature cannot be sent, or "" when it can (the server checks again).
  SignaturePad.prototype.problem = function () {
    var xs = [], ys = [];
    this.strokes.forEach(function (s) {
      s.forEach(function (p) { xs.push(p[0]); ys.push(p[1]); });
    });
    if (!xs.length) return this.words("unsigned");
    var extent = Math.max(Math.max.apply(null, xs) - Math.min.apply(null, xs),
                          Math.max.apply(null, ys) - Math.min.apply(null, ys));
    if (extent < this.minExtent) return this.words("small");
    return "";
  };

  document.addEventListener("DOMContentLoaded", function () {
    var pads = Array.prototype.map.call(document.querySelectorAll("[data-pad]"), function (root) {
      return new SignaturePad(root);
    });
    var form = document.querySelector("form[data-sign-form]");
    if (!form) return;
    // The form goes to the server even with a pad left empty: the server checks the pads and
    // every other field of the step together, so all of the step's errors come at once.
    form.addEventListener("submit", function (event) {
      // Back and a language switch keep the pad as it is, signed or not.
      if (event.submitter && (event.submitter.name === "nav" || event.submitter.name === "lang")) return;
      pads.forEach(function (pad) {
        var problem = pad.problem();
        pad.say(problem, true);
        pad.root.classList.toggle("has-error", Boolean(problem));
      });
    });
  });
})();
