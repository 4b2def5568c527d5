/**
 * Kubernetes label selectors (metav1.LabelSelector), as k8s.io/apimachinery evaluates them:
 * LabelSelectorAsSelector (pkg/apis/meta/v1/helpers.go) turns matchLabels into `key=value`
 * requirements and matchExpressions into In / NotIn / Exists / DoesNotExist requirements, all
 * ANDed, and an empty selector selects everything; each requirement matches as
 * pkg/labels/selector.go Requirement.Matches does (read from indexed copies of unknown version;
 * this part of apimachinery has not changed in years). A nil selector is the caller's business:
 * the network policy controller reads it as "everything" for peers (createPodLabelSelector).
 */

/** One matchExpressions entry. */
export interface LabelSelectorRequirement {
    key: string;
    operator: "In" | "NotIn" | "Exists" | "DoesNotExist";
    values?: string[];
}

/** A label selector; both parts empty or absent select everything. */
export interface LabelSelector {
    matchLabels?: Record<string, string>;
    matchExpressions?: LabelSelectorRequirement[];
}

/** Whether `labels` satisfy every requirement of `selector`. */
export function selectorMatches(selector: LabelSelector, labels: Readonly<Record<string, string>>): boolean {
    const byLabel = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
    return byLabel && (selector.matchExpressions ?? []).every((req) => requirementMatches(req, labels));
}

function requirementMatches(req: LabelSelectorRequirement, labels: Readonly<Record<string, string>>): boolean {
    const has = Object.prototype.hasOwnProperty.call(labels, req.key);
    const value = labels[req.key];
    switch (req.operator) {
        case "In":
            return has && (req.values ?? []).includes(value ?? "");
        // NotIn (and !=) match when the label is absent.
        case "NotIn":
            return !has || !(req.values ?? []).includes(value ?? "");
        case "Exists":
            return has;
        case "DoesNotExist":
            return !has;
    }
}
