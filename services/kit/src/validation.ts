import type { DescMessage, MessageShape } from "@bufbuild/protobuf";
import { createValidator, type Validator } from "@bufbuild/protovalidate";
import type { Path } from "@bufbuild/protobuf/reflect";
import type { Interceptor } from "@connectrpc/connect";
import { InvalidArgumentError, type FieldViolation } from "./errors.js";

/**
 * Enforces the protovalidate rules written in the protos on every request message, before the
 * handler runs. A violation becomes INVALID_ARGUMENT with one google.rpc.BadRequest field
 * violation per broken rule, named by its path in the request ("brand.time_zone",
 * "events[3].amount_micros"), so grpcurl users see exactly which field to fix.
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

/** Returns the violations of one message (empty when valid), paths prefixed by `pathPrefix`. */
export function validate<Desc extends DescMessage>(
  validator: Validator,
  schema: Desc,
  message: MessageShape<Desc>,
  pathPrefix = "",
): FieldViolation[] {
  const result = validator.validate(schema, message);
  switch (result.kind) {
    case "valid":
      return [];
    case "invalid":
      return result.error.violations.map((v) => ({
        field: pathPrefix + protoPath(v.field),
        description: v.message,
      }));
    case "error":
      // A rule that cannot be evaluated is our bug (a broken proto), not the caller's.
      throw result.error;
  }
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
