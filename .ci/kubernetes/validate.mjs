// Validates rendered Kubernetes manifests (kubectl kustomize output) against the Kubernetes API
// schema shipped by the npm package kubernetes-models (generated from the API's OpenAPI spec),
// then checks the migration pods against the rules docs/kubernetes.md gives.
//
//   node validate.mjs <node_modules> NAME=rendered.yaml ...   (.ci/kubernetes/validate.sh)
//   node validate.mjs <node_modules> --self-test NAME=rendered.yaml
//
// kubernetes-models' validators ignore unknown fields (the API's schema has no
// additionalProperties: false; the API server drops them, or warns): a misspelt
// `terminationGracePeriodSecond` would pass. So every field is also looked up in the package's
// type declarations, the same schema's properties, as kubeconform -strict does.
import { existsSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [modules, ...rest] = process.argv.slice(2);
const selfTest = rest[0] === "--self-test";
const inputs = (selfTest ? rest.slice(1) : rest).map((a) => ({ name: a.slice(0, a.indexOf("=")), file: a.slice(a.indexOf("=") + 1) }));
const { parseAllDocuments } = await import(pathToFileURL(join(modules, "yaml/dist/index.js")));
const models = join(modules, "kubernetes-models");

const APP_UID = 1654; // the image's USER (Dockerfile: the base image's APP_UID)
const MIN_GRACE_SECONDS = 30; // the runner's cancel and rollback, with room (docs/kubernetes.md)

function modelFile(apiVersion, kind) { // batch/v1 + Job -> kubernetes-models/batch/v1/Job.js
  const file = join(models, apiVersion, `${kind}.js`);
  return existsSync(file) ? file : null;
}

// --- unknown fields, from the .d.ts declarations ------------------------------------------------
const interfaces = new Map(); // .d.ts file -> { props: Map(name -> type), imports: Map(id -> file) } | null
function declarations(file) {
  if (interfaces.has(file)) return interfaces.get(file);
  const text = readFileSync(file, "utf8");
  const imports = new Map();
  for (const m of text.matchAll(/^import \{ (\w+) \} from "([^"]+)";$/gm)) {
    const target = m[2].startsWith(".") ? resolve(dirname(file), m[2]) : join(modules, m[2]);
    imports.set(m[1], target.replace(/\.js$/, "") + ".d.ts");
  }
  const body = text.match(/^export interface \w+(?: extends (\w+))? \{\n([\s\S]*?)^\}/m);
  let result = null;
  if (body) {
    const props = new Map();
    if (body[1] === "TypeMeta") { props.set("apiVersion", "string"); props.set("kind", "string"); }
    else if (body[1]) throw new Error(`${file}: extends ${body[1]}, not understood`);
    // A property is one line at four spaces, or a map over three: `{` / `[key: string]: T;` / `};`
    for (const m of body[2].matchAll(/^ {4}"([^"]+)"\??: (?:\{\n\s+\[key: string\]: (.+);\n\s+\}|(.+));$/gm)) {
      props.set(m[1], m[2] ? { map: m[2] } : m[3]);
    }
    result = { props, imports };
  }
  interfaces.set(file, result);
  return result;
}

function unknownFields(value, file, path, errors) {
  const decl = file && declarations(file);
  if (!decl || value === null || typeof value !== "object" || Array.isArray(value)) return;
  for (const [key, v] of Object.entries(value)) {
    const type = decl.props.get(key);
    if (type === undefined) { errors.push(`${path}.${key}: unknown field`); continue; }
    const element = (t) => decl.imports.get(t.replace(/^Array<(.+)>$/, "$1"));
    if (typeof type === "object") {
      for (const [k, item] of Object.entries(v ?? {})) unknownFields(item, decl.imports.get(type.map), `${path}.${key}.${k}`, errors);
    } else if (/^Array</.test(type)) {
      (Array.isArray(v) ? v : []).forEach((item, i) => unknownFields(item, element(type), `${path}.${key}[${i}]`, errors));
    } else {
      unknownFields(v, decl.imports.get(type), `${path}.${key}`, errors);
    }
  }
}

async function schemaErrors(obj) {
  const where = `${obj?.kind ?? "?"}/${obj?.metadata?.name ?? "?"}`;
  const file = obj?.apiVersion && obj?.kind && modelFile(obj.apiVersion, obj.kind);
  if (!file) return [`${where}: no schema for apiVersion '${obj?.apiVersion}' kind '${obj?.kind}'`];
  const Model = (await import(pathToFileURL(file)))[obj.kind];
  const errors = [];
  try { new Model(obj).validate(); } catch (e) { errors.push(`${where}: ${e.message}`); }
  unknownFields(obj, file.replace(/\.js$/, ".d.ts"), where, errors);
  return errors;
}

// --- the rules for the migration pods ------------------------------------------------------------
const env = (c, name) => (c.env ?? []).find((e) => e.name === name)?.value;
const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);

function podRules(where, pod, migrate, errors) {
  const fail = (m) => errors.push(`${where}: ${m}`);
  const psc = pod.securityContext ?? {};
  const csc = migrate.securityContext ?? {};
  if (psc.runAsNonRoot !== true) fail("runAsNonRoot must be true");
  if ((csc.runAsUser ?? psc.runAsUser) !== APP_UID) fail(`runAsUser must be ${APP_UID}, the image's app user`);
  if (csc.readOnlyRootFilesystem !== true) fail("readOnlyRootFilesystem must be true");
  if (csc.allowPrivilegeEscalation !== false) fail("allowPrivilegeEscalation must be false");
  if (!(csc.capabilities?.drop ?? []).includes("ALL")) fail("capabilities must drop ALL");
  if (!((pod.terminationGracePeriodSeconds ?? 30) >= MIN_GRACE_SECONDS)) fail(`terminationGracePeriodSeconds below ${MIN_GRACE_SECONDS}`);
  const volume = (mountPath) => {
    const mount = (migrate.volumeMounts ?? []).find((m) => mountPath.startsWith(`${m.mountPath}/`) || m.mountPath === mountPath);
    return mount && (pod.volumes ?? []).find((v) => v.name === mount.name);
  };
  const urlFile = env(migrate, "DATABASE_URL_FILE");
  if (!urlFile || !volume(urlFile)?.secret) fail("DATABASE_URL_FILE must name a file of a mounted Secret");
  if (env(migrate, "DATABASE_URL") !== undefined) fail("no DATABASE_URL in the environment (the Secret's file only)");
  if (!volume("/tmp")?.emptyDir) fail("/tmp must be an emptyDir (the root file system is read-only)");
}

function jobRules(where, job, errors) {
  const fail = (m) => errors.push(`${where}: ${m}`);
  const spec = job.spec ?? {};
  const migrate = spec.template?.spec?.containers?.find((c) => c.name === "migrate");
  if (spec.template?.spec?.restartPolicy !== "Never") fail("restartPolicy must be Never (podFailurePolicy needs it)");
  if (!(spec.backoffLimit >= 1)) fail("backoffLimit must allow a retry");
  if (!(spec.ttlSecondsAfterFinished > 0)) fail("ttlSecondsAfterFinished must be set");
  const bound = Number(env(migrate ?? {}, "TIMETRACK_LOCK_TIMEOUT") ?? 300) + Number(env(migrate ?? {}, "TIMETRACK_WAIT") ?? 0);
  if (!(spec.activeDeadlineSeconds > bound + 600)) fail(`activeDeadlineSeconds must exceed the wait and lock timeout (${bound} s) plus a long step`);
  const rules = spec.podFailurePolicy?.rules ?? [];
  const codes = (action) => rules.filter((r) => r.action === action && r.onExitCodes?.operator === "In").flatMap((r) => r.onExitCodes.values);
  if (!same(codes("FailJob"), [2, 5])) fail(`podFailurePolicy must fail the Job on exit 2 and 5 (FailJob: ${codes("FailJob")})`);
  if ([3, 4].some((c) => !codes("Count").includes(c))) fail("podFailurePolicy must count (retry) exit 3 and 4");
  const disruption = rules.findIndex((r) => r.action === "Ignore" && r.onPodConditions?.some((p) => p.type === "DisruptionTarget"));
  const exitRule = rules.findIndex((r) => r.onExitCodes?.values?.includes(143));
  if (disruption < 0 || (exitRule >= 0 && exitRule < disruption)) fail("podFailurePolicy must ignore DisruptionTarget before any rule on exit 143");
  const a = job.metadata?.annotations ?? {};
  if (a["helm.sh/hook"] && (!/pre-install/.test(a["helm.sh/hook"]) || !/pre-upgrade/.test(a["helm.sh/hook"])
      || !/before-hook-creation/.test(a["helm.sh/hook-delete-policy"] ?? ""))) fail("a Helm hook must be pre-install,pre-upgrade with hook-delete-policy before-hook-creation");
  if (a["argocd.argoproj.io/hook"] && (a["argocd.argoproj.io/hook"] !== "PreSync"
      || !/BeforeHookCreation/.test(a["argocd.argoproj.io/hook-delete-policy"] ?? ""))) fail("an Argo CD hook must be PreSync with hook-delete-policy BeforeHookCreation");
}

function migratePods(obj) { // [where, pod spec, migrate container] of a Job or a workload's init container
  const pod = obj?.spec?.template?.spec;
  if (!pod) return [];
  const c = obj.kind === "Job" ? pod.containers?.find((x) => x.name === "migrate") : pod.initContainers?.find((x) => x.name === "migrate");
  return c ? [[`${obj.kind}/${obj.metadata?.name}`, pod, c]] : [];
}

async function check(rendered) { // [{ name, objects }] -> errors
  const errors = [];
  let reference = null; // the first migrate container: every other one must be the same
  for (const { name, objects } of rendered) {
    for (const obj of objects) {
      errors.push(...(await schemaErrors(obj)).map((e) => `${name}: ${e}`));
      if (obj?.kind === "Job") jobRules(`${name}: Job/${obj.metadata?.name}`, obj, errors);
      for (const [where, pod, migrate] of migratePods(obj)) {
        podRules(`${name}: ${where}`, pod, migrate, errors);
        const { image, ...container } = migrate; // overlays may pin the image
        const volumes = (pod.volumes ?? []).filter((v) => (migrate.volumeMounts ?? []).some((m) => m.name === v.name));
        const shape = { container, securityContext: pod.securityContext, grace: pod.terminationGracePeriodSeconds, volumes };
        if (!reference) reference = { where: `${name}: ${where}`, shape };
        else if (!same(shape, reference.shape)) errors.push(`${name}: ${where}: the migrate container differs from ${reference.where}'s (one definition in two files: keep them the same)`);
      }
    }
    if (!objects.some((o) => migratePods(o).length)) errors.push(`${name}: no migration Job or migrate init container`);
  }
  return errors;
}

function load({ name, file }) {
  const docs = parseAllDocuments(readFileSync(file, "utf8"));
  const bad = docs.flatMap((d) => d.errors.map((e) => `${name}: ${e.message}`));
  if (bad.length) throw new Error(bad.join("\n"));
  return { name, objects: docs.map((d) => d.toJS()).filter((o) => o !== null) };
}

const rendered = inputs.map(load);
if (selfTest) {
  // Each mistake must be found: the checks above can fail.
  const job = rendered.flatMap((r) => r.objects).find((o) => o.kind === "Job");
  const mistakes = {
    "a misspelt field": (j) => { j.spec.template.spec.terminationGracePeriodSecond = 60; },
    "a string for an integer": (j) => { j.spec.backoffLimit = "3"; },
    "a value outside an enum": (j) => { j.spec.template.spec.restartPolicy = "Sometimes"; },
    "an unknown field in a list item": (j) => { j.spec.template.spec.containers[0].envv = []; },
    "exit 5 retried": (j) => { j.spec.podFailurePolicy.rules[0].onExitCodes.values = [2]; },
    "root": (j) => { j.spec.template.spec.securityContext.runAsUser = 0; },
    "a writable root": (j) => { delete j.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem; },
    "the URL in the environment": (j) => { j.spec.template.spec.containers[0].env.push({ name: "DATABASE_URL", value: "postgresql://x" }); },
    "a deadline shorter than the lock timeout": (j) => { j.spec.activeDeadlineSeconds = 300; },
  };
  let missed = 0;
  for (const [what, mutate] of Object.entries(mistakes)) {
    const copy = structuredClone(job);
    mutate(copy);
    const errors = await check([{ name: "self-test", objects: [copy] }]);
    console.log(`${errors.length ? "found" : "MISSED"}: ${what}${errors.length ? ` (${errors[0]})` : ""}`);
    if (!errors.length) missed++;
  }
  const clean = await check([{ name: "self-test", objects: [job] }]);
  if (clean.length) { console.log(`unexpected on the unchanged Job: ${clean.join("; ")}`); missed++; }
  process.exit(missed ? 1 : 0);
}
const errors = await check(rendered);
for (const e of errors) console.log(`error: ${e}`);
const count = rendered.reduce((n, r) => n + r.objects.length, 0);
console.log(`validate: ${rendered.length} rendering(s), ${count} object(s), ${errors.length} error(s)`);
process.exit(errors.length ? 1 : 0);
