import {
  getOption,
  hasOption,
  ScalarType,
  type DescField,
  type DescMessage,
  type MessageShape,
} from "@bufbuild/protobuf";
import { createValidator, type Validator } from "@bufbuild/protovalidate";
import { field as fieldRulesExt, Ignore } from "@bufbuild/protovalidate/gen/buf/validate/validate_pb.js";
import { isReflectMessage, reflect, type Path, type ReflectMessage } from "@bufbuild/protobuf/reflect";
import type { Interceptor } from "@connectrpc/connect";
import { InvalidArgumentError, type FieldViolation } from "./errors.js";

/**
 * Enforces the protovalidate rules written in the protos on every request message, before the
 * handler runs, plus the rules every request obeys whatever its proto says (see `checkInput`).
 * A violation becomes INVALID_ARGUMENT with one google.rpc.BadRequest field violation per broken
 * rule, named by its path in the request ("item.time_zone", "events[3].amount_micros"), so
 * grpcurl users see exactly which field to fix.
 *
 * Fields marked `(buf.validate.field).ignore = IGNORE_ALWAYS` are skipped entirely: the handler
 * validates them item by item with `validate()`, so that one bad item fails alone.
 */
export function createValidationInterceptor(validator: Validator = createValidator()): Interceptor {
  return (next) => async (req) => {
    if (!req.stream) {
      assertValid(validator, req.method.input, req.message);
      return next(req);
    }
    const input = req.method.input;
    const messages = req.message;
    return next({
      ...req,
      message: (async function* () {
        for await (const m of messages) {
          assertValid(validator, input, m);
          yield m;
        }
      })(),
    });
  };
}

/** Validates one message, throwing InvalidArgumentError with every violation. */
export function assertValid<Desc extends DescMessage>(
  validator: Validator,
  schema: Desc,
  message: MessageShape<Desc>,
  pathPrefix = "",
): void {
  const violations = validate(validator, schema, message, pathPrefix);
  if (violations.length > 0) throw new InvalidArgumentError(violations);
}

/**
 * Returns the violations of one message (empty when valid), paths prefixed by `pathPrefix`:
 * the protovalidate rules of its proto, then the generic input rules of `checkInput`.
 */
export function validate<Desc extends DescMessage>(
  validator: Validator,
  schema: Desc,
  message: MessageShape<Desc>,
  pathPrefix = "",
): FieldViolation[] {
  const result = validator.validate(schema, message);
  switch (result.kind) {
    case "valid":
      return checkInput(schema, message, pathPrefix);
    case "invalid":
      return checkInput(
        schema,
        message,
        pathPrefix,
        result.error.violations.map((v) => ({ field: pathPrefix + protoPath(v.field), description: v.message })),
      );
    case "error": {
      // A rule that cannot be evaluated is our bug (a broken proto), not the caller's, unless
      // the input is out of every range to begin with (a year-10^11 timestamp can break a
      // rule's arithmetic): then the caller hears about its input.
      const own = checkInput(schema, message, pathPrefix);
      if (own.length > 0) return own;
      throw result.error;
    }
  }
}

/**
 * The rules every request obeys, whatever its proto says, checked by a walk over the message
 * (nested messages, repeated fields, map keys and values) with protobuf-es reflection:
 *
 * - a `string` (value or map key) holds no C0 control character (U+0000..U+001F) nor DEL
 *   (U+007F): PostgreSQL refuses NUL in text, and none of our ids, names, tokens or zones has a
 *   use for the others (they only hide in logs and break exports);
 * - a `string` is valid Unicode: a JSON "\ud800" escape parses into an unpaired UTF-16
 *   surrogate, which has no UTF-8 encoding;
 * - a `google.protobuf.Timestamp` is in its documented range, 0001-01-01T00:00:00Z to
 *   9999-12-31T23:59:59.999999999Z (binary gRPC can carry any int64 seconds and int32 nanos,
 *   which break date arithmetic and PostgreSQL).
 *
 * Fields with `(buf.validate.field).ignore = IGNORE_ALWAYS` are not walked (their owner
 * validates them item by item). Violations are appended to `out` (returned), with paths in the
 * format of protovalidate's (`a.b[2].c`, `m["key"]`) prefixed by `pathPrefix`.
 *
 * It runs on every request: which fields can hold a string or a Timestamp is worked out once
 * per message type, messages without any are not visited, and nothing is allocated for a
 * string that passes (two native scans) nor for a path until a violation is found.
 */
export function checkInput<Desc extends DescMessage>(
  schema: Desc,
  message: MessageShape<Desc>,
  pathPrefix = "",
  out: FieldViolation[] = [],
): FieldViolation[] {
  if (schema.typeName === TIMESTAMP) {
    const description = timestampProblem(reflect(schema, message, false));
    if (description !== undefined) out.push({ field: pathPrefix.replace(/\.$/, ""), description });
    return out;
  }
  if (planOf(schema).length === 0) return out;
  walkMessage(reflect(schema, message, false), { prefix: pathPrefix, path: [], out, depth: 0 });
  return out;
}

const TIMESTAMP = "google.protobuf.Timestamp";
// 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z, the range of google.protobuf.Timestamp.
const MIN_SECONDS = -62135596800n;
const MAX_SECONDS = 253402300799n;
/** The last instant a google.protobuf.Timestamp can carry, in epoch milliseconds (9999-12-31T23:59:59.999Z). */
export const MAX_TIMESTAMP_MS = Number(MAX_SECONDS) * 1000 + 999;
const TIMESTAMP_RANGE = "must be a timestamp between 0001-01-01 and 9999-12-31";
const TIMESTAMP_NANOS = "must be a timestamp with nanos between 0 and 999999999";
// No `g` flag: test() keeps no state and allocates nothing.
// eslint-disable-next-line no-control-regex -- finding control characters is the point.
const CONTROL = /[\u0000-\u001f\u007f]/;

interface Walk {
  readonly prefix: string;
  /** The current path; list and map items are pushed and popped while walking. */
  readonly path: Path;
  readonly out: FieldViolation[];
  /** Nesting depth of the message being walked (recursive types such as Struct). */
  depth: number;
}

/** The binary parser's own default nesting limit: deeper input never parses from the wire. */
const MAX_DEPTH = 100;

/** Per message type: the fields that can (transitively) hold a string or a Timestamp. */
const plans = new WeakMap<DescMessage, readonly DescField[]>();

function planOf(desc: DescMessage): readonly DescField[] {
  return plans.get(desc) ?? buildPlan(desc, new Set());
}

function buildPlan(desc: DescMessage, building: Set<DescMessage>): readonly DescField[] {
  const cached = plans.get(desc);
  if (cached) return cached;
  building.add(desc);
  const plan: DescField[] = [];
  for (const f of desc.fields) {
    if (ignoredAlways(f)) continue;
    let relevant: boolean;
    switch (f.fieldKind) {
      case "scalar":
        relevant = f.scalar === ScalarType.STRING;
        break;
      case "enum":
        relevant = false;
        break;
      case "message":
        relevant = messageRelevant(f.message, building);
        break;
      case "list":
        relevant =
          f.listKind === "scalar"
            ? f.scalar === ScalarType.STRING
            : f.listKind === "message" && messageRelevant(f.message, building);
        break;
      case "map":
        relevant =
          f.mapKey === ScalarType.STRING ||
          (f.mapKind === "scalar"
            ? f.scalar === ScalarType.STRING
            : f.mapKind === "message" && messageRelevant(f.message, building));
        break;
    }
    if (relevant) plan.push(f);
  }
  building.delete(desc);
  plans.set(desc, plan);
  return plan;
}

/** A recursive type being planned counts as relevant (it is walked; the walk finds out). */
function messageRelevant(desc: DescMessage, building: Set<DescMessage>): boolean {
  return desc.typeName === TIMESTAMP || building.has(desc) || buildPlan(desc, building).length > 0;
}

/** `(buf.validate.field).ignore = IGNORE_ALWAYS`: read once per field, when its type is planned. */
function ignoredAlways(field: DescField): boolean {
  return hasOption(field, fieldRulesExt) && getOption(field, fieldRulesExt).ignore === Ignore.ALWAYS;
}

function walkMessage(msg: ReflectMessage, w: Walk): void {
  for (const f of planOf(msg.desc)) {
    if (!msg.isSet(f)) continue;
    w.path.push(f);
    switch (f.fieldKind) {
      case "scalar":
        checkString(msg.get(f) as string, w, false);
        break;
      case "message":
        walkValue(msg.get(f), w);
        break;
      case "list": {
        const list = msg.get(f);
        const item = { kind: "list_sub" as const, index: 0 };
        w.path.push(item);
        for (let i = 0; i < list.size; i++) {
          item.index = i;
          const v = list.get(i);
          if (typeof v === "string") checkString(v, w, false);
          else walkValue(v as ReflectMessage, w);
        }
        w.path.pop();
        break;
      }
      case "map": {
        const map = msg.get(f);
        const entry: { kind: "map_sub"; key: string | number | bigint | boolean } = { kind: "map_sub", key: "" };
        w.path.push(entry);
        for (const [k, v] of map) {
          entry.key = k as string | number | bigint | boolean;
          if (typeof k === "string") checkString(k, w, true);
          if (typeof v === "string") checkString(v, w, false);
          else if (isReflectMessage(v)) walkValue(v, w);
        }
        w.path.pop();
        break;
      }
    }
    w.path.pop();
  }
}

function walkValue(msg: ReflectMessage, w: Walk): void {
  if (msg.desc.typeName === TIMESTAMP) {
    const description = timestampProblem(msg);
    if (description !== undefined) violation(w, description);
  } else if (w.depth >= MAX_DEPTH) {
    violation(w, `must not nest more than ${MAX_DEPTH} messages deep`);
  } else {
    w.depth++;
    walkMessage(msg, w);
    w.depth--;
  }
}

function timestampProblem(ts: ReflectMessage): string | undefined {
  const raw = ts.get(ts.desc.field["seconds"]) as bigint | string | number;
  const seconds = typeof raw === "bigint" ? raw : BigInt(raw);
  if (seconds < MIN_SECONDS || seconds > MAX_SECONDS) return TIMESTAMP_RANGE;
  const nanos = ts.get(ts.desc.field["nanos"]) as number;
  if (nanos < 0 || nanos > 999_999_999) return TIMESTAMP_NANOS;
  return undefined;
}

function checkString(s: string, w: Walk, isKey: boolean): void {
  if (CONTROL.test(s)) {
    const c = s.charCodeAt(s.search(CONTROL));
    violation(w, `${isKey ? "map key " : ""}must not contain control characters (found ${codePoint(c)})`);
  }
  if (!s.isWellFormed()) {
    violation(
      w,
      `${isKey ? "map key " : ""}must be valid UTF-8 (found an unpaired surrogate ${codePoint(unpairedSurrogate(s))})`,
    );
  }
}

function unpairedSurrogate(s: string): number {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = s.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) i++;
      else return c;
    } else if (c >= 0xdc00 && c <= 0xdfff) {
      return c;
    }
  }
  return 0xfffd;
}

function codePoint(c: number): string {
  return `U+${c.toString(16).toUpperCase().padStart(4, "0")}`;
}

function violation(w: Walk, description: string): void {
  w.out.push({ field: w.prefix + protoPath(w.path), description });
}

/** Renders a protobuf-es reflect Path as "a.b[2].c" with proto field names. */
function protoPath(path: Path): string {
  let out = "";
  for (const el of path) {
    if (el.kind === "field" || el.kind === "oneof") {
      out += (out ? "." : "") + el.name;
    } else if (el.kind === "extension") {
      out += `${out ? "." : ""}[${el.typeName}]`;
    } else if (el.kind === "list_sub") {
      out += `[${el.index}]`;
    } else if (el.kind === "map_sub") {
      out += `[${JSON.stringify(String(el.key))}]`;
    }
  }
  return out;
}
