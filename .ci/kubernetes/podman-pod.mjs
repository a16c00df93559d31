// The pod template of a rendered Job or Deployment as a Pod that podman 4.3's `kube play` runs
// as Kubernetes would (test-kube-play.sh). Only what podman 4.3 lacks is changed:
//   - kind Job is unknown to it (5.3 plays Jobs): the Job's pod template becomes the Pod;
//   - secret volumes are not supported: the Secret becomes a hostPath directory holding its files;
//   - the pod-level runAsUser/runAsGroup are ignored: copied to each container that sets none;
//   - finished init containers are removed: annotated "always" so that their state can be read;
//   - a containerPort is published on the host (Kubernetes publishes none): dropped;
//   - init containers are restarted under restartPolicy Always: the pod gets Never;
//   - an emptyDir becomes a named volume under the volume's own name, shared by every pod that
//     names it so (pods played at once race to create it: "name tmp is in use"): named per pod.
// Test-only additions, from the JSON options: images, environment, hostPath mounts.
//
//   node podman-pod.mjs <node_modules> rendered.yaml '{"name": "...", "image": "...", "standIn": "...",
//     "secretDir": "/dir/with/url", "env": {"K": "V"}, "mounts": [{"host": "/x", "path": "/y"}]}'
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";

const [modules, file, json] = process.argv.slice(2);
const options = JSON.parse(json);
const { parseAllDocuments } = await import(pathToFileURL(join(modules, "yaml/dist/index.js")));
const source = parseAllDocuments(readFileSync(file, "utf8")).map((d) => d.toJS()).find((o) => o?.spec?.template?.spec);
if (!source) throw new Error(`${file}: no Job or Deployment with a pod template`);

const pod = structuredClone(source.spec.template.spec);
// podman 4.3 applies the pod's restart policy to init containers too: with a Deployment's Always it
// restarts an init container that exited 0, again and again (Kubernetes never does).
pod.restartPolicy = "Never";
const { runAsUser, runAsGroup } = pod.securityContext ?? {};
const emptyDirs = new Set((pod.volumes ?? []).filter((v) => v.emptyDir).map((v) => v.name));
const perPod = (name) => (emptyDirs.has(name) ? `${options.name}-${name}` : name);
for (const c of [...(pod.initContainers ?? []), ...pod.containers]) {
  c.securityContext = { runAsUser, runAsGroup, ...c.securityContext };
  c.volumeMounts = c.volumeMounts?.map((m) => ({ ...m, name: perPod(m.name) }));
  if (c.name === "migrate") {
    c.image = options.image;
    const extra = Object.entries(options.env ?? {}).map(([name, value]) => ({ name, value }));
    c.env = [...(c.env ?? []).filter((e) => !(e.name in (options.env ?? {}))), ...extra];
    c.volumeMounts = [...(c.volumeMounts ?? []), ...(options.mounts ?? []).map((m, i) => ({ name: `test-${i}`, mountPath: m.path, readOnly: true }))];
  } else {
    c.image = options.standIn;
    // An application that stops on SIGTERM; by full path: the stand-in's image sets no PATH.
    c.command = ["/bin/sh", "-c", "trap 'exit 0' TERM; while :; do sleep 1; done"];
    delete c.ports; // podman 4.3 publishes a containerPort on the host: replicas would collide
  }
}
pod.volumes = [
  ...(pod.volumes ?? []).map((v) => (v.secret ? { name: v.name, hostPath: { path: options.secretDir, type: "Directory" } } : { ...v, name: perPod(v.name) })),
  ...(options.mounts ?? []).map((m, i) => ({ name: `test-${i}`, hostPath: { path: m.host, type: "Directory" } })),
];
const result = {
  apiVersion: "v1",
  kind: "Pod",
  metadata: {
    name: options.name,
    labels: source.spec.template.metadata?.labels ?? {},
    annotations: { "io.podman.annotations.init.container.type": "always" },
  },
  spec: pod,
};
console.log(JSON.stringify(result, null, 2));
