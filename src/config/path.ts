/** A key path inside the config document, as zod reports it: names for keys, numbers for list items. */
export type KeyPath = readonly PropertyKey[];

const plainKey = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

/**
 * `tables[2].columns.mask.email`: the form users see in every config message. Keys that would
 * be ambiguous in dotted form (spaces, dots) are quoted, so a path always names one key.
 */
export function formatPath(path: KeyPath): string {
  let text = "";
  for (const segment of path) {
    if (typeof segment === "number") text += `[${segment}]`;
    else {
      const key = String(segment);
      if (!plainKey.test(key)) text += `[${JSON.stringify(key)}]`;
      else text += text === "" ? key : `.${key}`;
    }
  }
  return text === "" ? "(top level)" : text;
}
