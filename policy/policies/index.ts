/**
 * Every policy of the kubeforge pack, in the order they are reported. The pack (../index.ts) and
 * the offline runner (../runner.ts) both take this list.
 */
import type { Policies } from "@pulumi/policy";
import { deploymentAutoscaled } from "./deployment-autoscaled";
import { deploymentDisruptionBudget } from "./deployment-disruption-budget";
import { deploymentNetworkPolicy } from "./deployment-network-policy";
import { ecrImmutableTags } from "./ecr-immutable-tags";
import { ecrScanOnPush } from "./ecr-scan-on-push";
import { eksAuditLogging } from "./eks-audit-logging";
import { eksEndpointAccess } from "./eks-endpoint-access";
import { eksNodeGroupImdsv2 } from "./eks-nodegroup-imdsv2";
import { eksNodeGroupScaling } from "./eks-nodegroup-scaling";
import { eksSecretsEncryption } from "./eks-secrets-encryption";
import { elastiCacheEncryption } from "./elasticache-encryption";
import { elastiCacheProductionData } from "./elasticache-production-data";
import { healthProbes } from "./health-probes";
import { hostIsolation } from "./host-isolation";
import { noReplicasUnderHpa } from "./no-replicas-under-hpa";
import { noWorldIngress } from "./no-world-ingress";
import { pdbAllowsDisruption } from "./pdb-allows-disruption";
import { pinnedImage } from "./pinned-image";
import { productionReplicas } from "./production-replicas";
import { publicServices } from "./public-services";
import { resourceRequests } from "./resource-requests";
import { restrictedSecurityContext } from "./restricted-security-context";

export const policies: Policies = [
    // Kubernetes workloads
    pinnedImage,
    resourceRequests,
    healthProbes,
    restrictedSecurityContext,
    hostIsolation,
    publicServices,
    productionReplicas,
    // Stack-wide
    noReplicasUnderHpa,
    deploymentAutoscaled,
    deploymentDisruptionBudget,
    deploymentNetworkPolicy,
    pdbAllowsDisruption,
    // AWS
    eksSecretsEncryption,
    eksAuditLogging,
    eksEndpointAccess,
    eksNodeGroupScaling,
    eksNodeGroupImdsv2,
    ecrScanOnPush,
    ecrImmutableTags,
    elastiCacheEncryption,
    elastiCacheProductionData,
    noWorldIngress,
];
