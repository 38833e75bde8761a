import { addImageTemplates, loadConfig, type LoadOptions, type PcoccConfig } from "../config/index.js";
import { listImageNames } from "./resolve.js";

/**
 * The configuration as user commands see it: as in pcocc, every repository image that has no template
 * of its own name can be used as one (`pcocc alloc myimage:2`), with the default resource set.
 */
export async function loadConfigWithImages(opts?: LoadOptions): Promise<PcoccConfig> {
  const config = await loadConfig(opts);
  addImageTemplates(config, await listImageNames(config));
  return config;
}
