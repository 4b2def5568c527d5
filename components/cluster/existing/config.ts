/**
 * Stack config of the existing flavour: the `kubeforge:cluster` keys it reads (`context`,
 * `registry`), each optional. Composed into the stack's schema by components/config.ts.
 */
import { z } from "zod";

/** The existing flavour's keys of the `kubeforge:cluster` block. */
export const existingClusterShape = {
    /** existing: kubeconfig context to use; default the current context. */
    context: z.string().min(1, "must not be empty").optional(),
    /** existing: registry prefix images are pushed to (e.g. ghcr.io/acme); none by default. */
    registry: z.string().regex(/^[a-z0-9.-]+(:[0-9]+)?(\/[a-z0-9._/-]+)?$/, "is not a registry prefix (e.g. ghcr.io/acme or localhost:5000)").optional(),
};
