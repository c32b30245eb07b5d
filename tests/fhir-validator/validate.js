// Validate FHIR R4 resources with FHIR.js (the `fhir` npm package), one JSON resource a line on
// stdin; one JSON line on stdout for each: {"valid": bool, "errors": ["location: message", ...]}.
"use strict";
const readline = require("readline");
const { Fhir } = require("fhir");

const fhir = new Fhir();
const lines = readline.createInterface({ input: process.stdin, crlfDelay: Infinity });
lines.on("line", (line) => {
  if (!line.trim()) return;
  let result;
  try {
    result = fhir.validate(JSON.parse(line), { errorOnUnexpected: true });
  } catch (err) {
    result = { valid: false, messages: [{ severity: "error", location: "", message: String(err) }] };
  }
  const errors = (result.messages || [])
    .filter((m) => m.severity === "error")
    .map((m) => `${m.location}: ${m.message}`);
  process.stdout.write(JSON.stringify({ valid: result.valid && errors.length === 0, errors }) + "\n");
});
