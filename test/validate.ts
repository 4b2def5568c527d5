/**
 * Validate a Kubernetes object against the official OpenAPI schema, offline, with the
 * `kubernetes-models` package (one model class per apiVersion/kind).
 */
interface Model {
    validate(): void;
}
type ModelClass = new (data: object) => Model;

/** Throws, naming the object, when it does not validate (or its kind has no schema). */
export function validateK8s(obj: Record<string, unknown>): void {
    const { apiVersion, kind } = obj as { apiVersion?: string; kind?: string };
    const metadata = obj.metadata as { name?: string } | undefined;
    const id = `${apiVersion}/${kind} ${metadata?.name ?? "(unnamed)"}`;
    if (!apiVersion || !kind) throw new Error(`${id}: apiVersion and kind are required`);
    let ctor: ModelClass | undefined;
    try {
        // The model's module path is computed from the object; kubernetes-models v4 is CommonJS.
        // eslint-disable-next-line @typescript-eslint/no-require-imports
        ctor = (require(`kubernetes-models/${apiVersion}/${kind}`) as Record<string, ModelClass>)[kind];
    } catch {
        ctor = undefined;
    }
    if (!ctor) throw new Error(`${id}: no schema for ${apiVersion} ${kind} in kubernetes-models`);
    try {
        new ctor(obj).validate();
    } catch (err) {
        throw new Error(`${id} does not validate: ${(err as Error).message}`);
    }
}
