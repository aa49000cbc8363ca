/**
 * The image references the Kubernetes platforms accept. Their image is the member image of every container platform
 * (platform/image.ts, built from fixtures/image/): kind and minikube load it from this host's Docker engine, a cluster
 * reached by context pulls it from the registry `npm run image -- --push REF` put it in.
 */

/** Tags that name a moving target, never a release. */
const MOVING_TAGS = new Set(["latest", "main", "master", "develop", "dev", "edge", "nightly", "head", "trunk", "stable", "next", "snapshot", "current", "rolling"]);

/**
 * Throws unless `ref` names one image for good: a `@sha256:` digest, or a tag carrying a version number
 * (`patroni-3.0.2-pg15-<hash>`, `17.6-bookworm`, `v1.2`). `:latest`, a missing tag (which means latest) and branch-like tags
 * (`main`, `master`, `nightly`...) are refused, with what to do instead.
 */
export function assertPinnedImage(ref: string): void {
  const fail = (why: string) => {
    throw new Error(
      `image "${ref}" is not pinned: ${why}. Use a tag with an exact version (\`npm run image\` builds one, like pgchaos/member:patroni-3.0.2-pg15-<hash>) or a @sha256: digest`,
    );
  };
  if (!/^[a-z0-9][a-z0-9._\-/:@]*$/i.test(ref)) fail("it is not an image reference");
  const at = ref.indexOf("@");
  if (at >= 0) {
    if (!/^sha256:[0-9a-f]{64}$/.test(ref.slice(at + 1))) fail("its digest is not sha256:<64 hex digits>");
    return;
  }
  // The tag follows the last colon after the last slash (a colon before it belongs to a registry port).
  const lastSlash = ref.lastIndexOf("/");
  const colon = ref.indexOf(":", lastSlash + 1);
  if (colon < 0) fail("it has no tag, which means latest");
  const tag = ref.slice(colon + 1);
  if (tag === "") fail("its tag is empty");
  if (MOVING_TAGS.has(tag.toLowerCase())) fail(`"${tag}" names a moving target, not a release`);
  if (!/\d+\.\d+/.test(tag)) fail(`tag "${tag}" carries no version number (like 4.0.10 or 17.6)`);
}
