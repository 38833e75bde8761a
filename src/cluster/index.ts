/** Cluster definitions (`tplA:2,tplB:3`) and the resource definitions (`rset:N,...`) derived from them. */
export {
  parseClusterDefinition,
  parseResourceDefinition,
  MAX_CLUSTER_VMS,
  type ClusterDefinition,
  type ClusterVm,
  type ResourceRequest,
} from "./definition.js";
export {
  CLUSTER_FACTS_PATH,
  SECRET_PATTERN,
  parseClusterFacts,
  renderClusterFacts,
  substituteFacts,
  type ClusterFacts,
  type VmFacts,
  type VmNetFacts,
} from "./facts.js";
