// A strategy's parameters as form fields, drawn from its JSON Schema as the service serves it
// (`GET /algorithms`): the choice of a built-in strategy or a saved configuration, one field per
// property (a list for an `enum`), and the values typed as the schema says.
import type { Shown } from "./errors.js";
import { Field } from "./ui.js";
import type { Builtin, Prop, Saved } from "./screens/Algorithms.js";

export type PropWithEnum = Prop & { enum?: unknown[] };

/** The properties of a strategy's parameter schema. */
export function propsOf(builtin: Builtin | undefined): Record<string, PropWithEnum> {
  return ((builtin?.parameters as { properties?: Record<string, PropWithEnum> } | undefined)?.properties ?? {}) as Record<string, PropWithEnum>;
}

/** A number when the text is one; else the text itself, for the service to name what is wrong. */
export function numberOr(v: string): number | string {
  const t = v.trim();
  const n = Number(t);
  return t !== "" && Number.isFinite(n) ? n : t;
}

/** A field's text as the schema's type. */
export function typed(p: Prop | undefined, v: string): unknown {
  const t = Array.isArray(p?.type) ? p.type : [p?.type];
  if (t.includes("null") && v.trim() === "null") return null;
  if (t.includes("number") || t.includes("integer")) return numberOr(v);
  if (t.includes("boolean")) return v.trim() === "true" ? true : v.trim() === "false" ? false : v.trim();
  return v.trim();
}

/** The non-empty fields, typed (those in `skip` left out). */
export function parametersOf(props: Record<string, PropWithEnum>, values: Record<string, string>, skip?: Set<string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, p] of Object.entries(props)) {
    const v = (values[k] ?? "").trim();
    if (v === "" || skip?.has(k)) continue;
    out[k] = typed(p, v);
  }
  return out;
}

/** The saved configuration chosen, and the built-in strategy it runs (or the one chosen). */
export function chosenStrategy(list: { builtin: Builtin[]; saved: Saved[] } | undefined, chosen: string): { saved?: Saved; builtin?: Builtin } {
  const saved = list?.saved.find((a) => a.id === chosen);
  const builtin = list?.builtin.find((b) => b.name === (saved ? saved.kind : chosen));
  return { saved, builtin };
}

export function StrategySelect(props: {
  id: string;
  label: string;
  list: { builtin: Builtin[]; saved: Saved[] } | undefined;
  value: string;
  onChange: (v: string) => void;
  error?: Shown;
}) {
  const { list } = props;
  return (
    <Field id={props.id} label={props.label} name="algorithm_id" error={props.error}>
      {(a) => (
        <select {...a} value={props.value} onChange={(e) => props.onChange((e.target as HTMLSelectElement).value)}>
          <optgroup label="Built-in strategies">
            {(list?.builtin ?? [{ name: "ma_crossover", description: "", parameters: {} }]).map((b) => (
              <option key={b.name} value={b.name}>
                {b.name}
              </option>
            ))}
          </optgroup>
          {!!list?.saved.length && (
            <optgroup label="Saved configurations">
              {list.saved.map((a) => (
                <option key={a.id} value={a.id}>
                  {a.name} ({a.kind})
                </option>
              ))}
            </optgroup>
          )}
        </select>
      )}
    </Field>
  );
}

/** One field per property; a 422 naming `parameters.<key>` marks its field. */
export function ParameterFields(props: {
  idPrefix: string;
  schema: Record<string, PropWithEnum>;
  values: Record<string, string>;
  onChange: (values: Record<string, string>) => void;
  error?: Shown;
  /** Extra words for a field's hint (before its description and default). */
  note?: (key: string) => string | undefined;
  /** A value to name after the default (a saved configuration's, a bot's). */
  current?: Record<string, unknown>;
  currentLabel?: string;
  disabled?: (key: string) => boolean;
}) {
  const { values } = props;
  return (
    <div class="grid">
      {Object.entries(props.schema).map(([k, p]) => {
        const off = props.disabled?.(k) ?? false;
        return (
          <Field
            key={k}
            id={`${props.idPrefix}${k}`}
            label={k.replace(/_/g, " ")}
            name={`parameters.${k}`}
            error={props.error}
            hint={[
              props.note?.(k),
              p.description,
              p.default !== undefined ? `default ${String(p.default)}` : "",
              props.current && props.current[k] !== undefined ? `${props.currentLabel ?? "saved"} ${String(props.current[k])}` : "",
            ]
              .filter(Boolean)
              .join(" · ")}
          >
            {(a) =>
              Array.isArray(p.enum) ? (
                <select {...a} value={values[k] ?? ""} disabled={off} onChange={(e) => props.onChange({ ...values, [k]: (e.target as HTMLSelectElement).value })}>
                  <option value="">{p.default !== undefined ? `default (${String(p.default)})` : "—"}</option>
                  {p.enum.map((v) => (
                    <option key={String(v)} value={String(v)}>
                      {String(v)}
                    </option>
                  ))}
                </select>
              ) : (
                <input
                  {...a}
                  value={values[k] ?? ""}
                  disabled={off}
                  inputMode={p.type === "string" ? undefined : "decimal"}
                  onInput={(e) => props.onChange({ ...values, [k]: (e.target as HTMLInputElement).value })}
                />
              )
            }
          </Field>
        );
      })}
    </div>
  );
}
