// Compiles one standard-JSON input (stdin) with solc-js from the project's node_modules.
// Every source is already in the input (the Python side resolves imports), so no import
// callback is needed and native solc sees exactly the same input.
"use strict";
const path = require("path");

const nodeModules = process.argv[2];
const wantedVersion = process.argv[3];
let solc;
try {
  solc = require(path.join(nodeModules, "solc"));
} catch (err) {
  process.stderr.write(`cannot load solc-js from ${nodeModules}: ${err.message}\n`);
  process.exit(3);
}
const version = solc.version();
if (!version.startsWith(wantedVersion + "+")) {
  process.stderr.write(`solc-js is ${version}, the project pins ${wantedVersion}\n`);
  process.exit(4);
}
const chunks = [];
process.stdin.on("data", (c) => chunks.push(c));
process.stdin.on("end", () => {
  const output = solc.compile(Buffer.concat(chunks).toString("utf8"));
  process.stdout.write(JSON.stringify({ version, output: JSON.parse(output) }));
});
