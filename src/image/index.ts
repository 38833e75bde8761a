/**
 * Image repositories (pcocc layout v2), as configured in repos.yaml:
 *
 *   <repo>/.config               {version: 2}
 *   <repo>/data/<h[:2]>/<sha256> immutable qcow2 layers (0444); layers after the first back onto
 *                                `../../data/<xx>/<hash>`, so blobs are relocatable and shared between images
 *   <repo>/meta/<name>@<rev>     JSON {name, revision, kind, owner, timestamp, data_blobs, custom_meta}
 *   <repo>/.tmp/<staging>/       work in progress (same depth as data/<xx>/, so relative backings resolve there too)
 *
 * Commits are ordered so that a crash leaves every existing revision intact: layer written and fsynced in
 * `.tmp`, renamed into `data/`, then the meta file appears with link(2) (never replacing one). `repo gc`
 * removes what an interrupted commit left behind.
 */
export { type ImageUri, formatImageUri, parseImageUri } from "./uri.js";
export type { ImageMeta } from "./meta.js";
export {
  type ReposConfig,
  type ResolvedImage,
  listImageNames,
  requireVmImage,
  resolveImage,
} from "./resolve.js";
export { isDirectoryImage } from "./directory.js";
export { loadConfigWithImages } from "./implicit-templates.js";
export { type ImportResult, copyImage, exportImage, exportTarget, importImage } from "./transfer.js";
export {
  type CommittedRevision,
  type SaveTarget,
  addRevision,
  prepareSaveTarget,
  resizeImage,
} from "./revision.js";
export {
  type GcResult,
  type ImageInfo,
  type ImageRevisionInfo,
  deleteImage,
  listImages,
  repoGc,
  repoList,
  showImage,
} from "./manage.js";
export { createQcow2, imageInfo } from "./qemu-img.js";
export { formatGc, formatImageList, formatImageShow, formatRepoList } from "./report.js";
