import { PcoccError } from "../util/index.js";

const TEMPLATE_NAME = /^[A-Za-z0-9_-]+$/;

/**
 * `--image [TPL=]IMAGE` (repeatable) → the image each named template boots from in this cluster instead of
 * its configured one. `templates` are the definition's templates: a bare IMAGE is only unambiguous when
 * there is one.
 */
export function parseImageOverrides(specs: string[], templates: string[]): Map<string, string> {
  const distinct = [...new Set(templates)];
  const overrides = new Map<string, string>();
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    const image = (eq < 0 ? spec : spec.slice(eq + 1)).trim();
    if (image === "") throw new PcoccError(`invalid --image spec '${spec}': empty image`);
    let template: string;
    if (eq < 0) {
      if (distinct.length !== 1) {
        throw new PcoccError(
          `--image ${spec} is ambiguous for a multi-template cluster; qualify it as --image TPL=IMAGE`,
        );
      }
      template = distinct[0]!;
    } else {
      template = spec.slice(0, eq).trim();
      if (!TEMPLATE_NAME.test(template))
        throw new PcoccError(`invalid --image spec '${spec}': bad template name '${template}'`);
      if (!distinct.includes(template))
        throw new PcoccError(`--image template '${template}' is not part of the cluster definition`);
    }
    if (overrides.has(template)) throw new PcoccError(`--image given twice for template '${template}'`);
    overrides.set(template, image);
  }
  return overrides;
}
