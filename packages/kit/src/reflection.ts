import { readFileSync } from "node:fs";
import { create, fromBinary, toBinary, type DescFile, type DescService } from "@bufbuild/protobuf";
import {
  FileDescriptorProtoSchema,
  FileDescriptorSetSchema,
  type DescriptorProto,
  type FileDescriptorProto,
} from "@bufbuild/protobuf/wkt";
import type { ConnectRouter, HandlerContext } from "@connectrpc/connect";
import * as v1 from "@adbudget/proto/grpc/reflection/v1/reflection_pb.js";
import * as v1alpha from "@adbudget/proto/grpc/reflection/v1alpha/reflection_pb.js";

/**
 * gRPC server reflection, v1 and v1alpha, built from the generated descriptors.
 *
 * connect-es ships no reflection service, and grpcurl / `buf curl --reflect` need one to work
 * without proto files at hand. The index covers exactly the files reachable from the services
 * this server serves (plus `extraFiles`, for example error detail types): asking a server about
 * a service another server serves fails, as it should. File descriptors come from the full descriptor set
 * built by `buf build` (with comments, so `describe` shows the API docs) when it has the file,
 * else from the embedded descriptor of the generated code.
 */
export class ReflectionIndex {
  private readonly files = new Map<string, FileDescriptorProto>();
  private readonly symbols = new Map<string, string>();
  private readonly extensions = new Map<string, Map<number, string>>();

  constructor(
    readonly services: readonly DescService[],
    extraFiles: readonly DescFile[] = [],
    fullDescriptors: ReadonlyMap<string, FileDescriptorProto> = new Map(),
  ) {
    const visit = (file: DescFile) => {
      // DescFile.name has no ".proto" suffix; reflection speaks in proto file names.
      const name = file.proto.name;
      if (this.files.has(name)) return;
      this.files.set(name, fullDescriptors.get(name) ?? file.proto);
      file.dependencies.forEach(visit);
    };
    services.forEach((s) => visit(s.file));
    extraFiles.forEach(visit);
    for (const file of this.files.values()) this.indexFile(file);
  }

  serviceNames(): string[] {
    return this.services.map((s) => s.typeName);
  }

  /** The file and everything it imports, each once, dependencies last. */
  fileWithDependencies(name: string): FileDescriptorProto[] | undefined {
    if (!this.files.has(name)) return undefined;
    const out: FileDescriptorProto[] = [];
    const seen = new Set<string>();
    const walk = (n: string) => {
      const f = this.files.get(n);
      if (f === undefined || seen.has(n)) return;
      seen.add(n);
      out.push(f);
      f.dependency.forEach(walk);
    };
    walk(name);
    return out;
  }

  fileOfSymbol(symbol: string): string | undefined {
    return this.symbols.get(symbol.replace(/^\./, ""));
  }

  fileOfExtension(extendee: string, number: number): string | undefined {
    return this.extensions.get(extendee.replace(/^\./, ""))?.get(number);
  }

  extensionNumbers(extendee: string): number[] | undefined {
    const type = extendee.replace(/^\./, "");
    if (!this.symbols.has(type)) return undefined;
    return [...(this.extensions.get(type)?.keys() ?? [])].sort((a, b) => a - b);
  }

  private indexFile(file: FileDescriptorProto): void {
    const prefix = file.package ? `${file.package}.` : "";
    const addExtensions = (exts: FileDescriptorProto["extension"]) => {
      for (const ext of exts) {
        const extendee = ext.extendee.replace(/^\./, "");
        const numbers = this.extensions.get(extendee) ?? new Map<number, string>();
        numbers.set(ext.number, file.name);
        this.extensions.set(extendee, numbers);
      }
    };
    const addMessage = (m: DescriptorProto, scope: string) => {
      const name = scope + m.name;
      this.symbols.set(name, file.name);
      for (const f of m.field) this.symbols.set(`${name}.${f.name}`, file.name);
      for (const e of m.enumType) this.symbols.set(`${name}.${e.name}`, file.name);
      m.nestedType.forEach((n) => addMessage(n, `${name}.`));
      addExtensions(m.extension);
    };
    file.messageType.forEach((m) => addMessage(m, prefix));
    for (const e of file.enumType) {
      this.symbols.set(prefix + e.name, file.name);
      for (const v of e.value) this.symbols.set(prefix + v.name, file.name);
    }
    for (const s of file.service) {
      this.symbols.set(prefix + s.name, file.name);
      for (const m of s.method) this.symbols.set(`${prefix}${s.name}.${m.name}`, file.name);
    }
    for (const x of file.extension) this.symbols.set(prefix + x.name, file.name);
    addExtensions(file.extension);
  }
}

/** Reads a binary FileDescriptorSet (as written by `buf build -o x.binpb`) into a map by name. */
export function loadDescriptorSet(path: string): Map<string, FileDescriptorProto> {
  const set = fromBinary(FileDescriptorSetSchema, readFileSync(path));
  return new Map(set.file.map((f) => [f.name, f]));
}

/** The full descriptors shipped with @adbudget/proto, or none when it was built without them. */
export function loadContractDescriptors(): Map<string, FileDescriptorProto> {
  try {
    return loadDescriptorSet(new URL(import.meta.resolve("@adbudget/proto/descriptors.binpb")).pathname);
  } catch {
    return new Map();
  }
}

type Version = typeof v1 | typeof v1alpha;

/** Answers one reflection request; shared by v1 and v1alpha, whose messages are identical. */
function answer(index: ReflectionIndex, v: Version, req: v1.ServerReflectionRequest | v1alpha.ServerReflectionRequest) {
  const base = { validHost: req.host, originalRequest: req };
  const files = (names: (string | undefined)[], what: string) => {
    const name = names.find((n) => n !== undefined);
    const protos = name === undefined ? undefined : index.fileWithDependencies(name);
    if (protos === undefined) {
      return { case: "errorResponse" as const, value: { errorCode: 5, errorMessage: `${what} not found` } };
    }
    return {
      case: "fileDescriptorResponse" as const,
      value: { fileDescriptorProto: protos.map((p) => toBinary(FileDescriptorProtoSchema, p)) },
    };
  };
  const m = req.messageRequest;
  let messageResponse;
  switch (m.case) {
    case "listServices":
      messageResponse = {
        case: "listServicesResponse" as const,
        value: { service: index.serviceNames().map((name) => ({ name })) },
      };
      break;
    case "fileByFilename":
      messageResponse = files([m.value], `file ${m.value}`);
      break;
    case "fileContainingSymbol":
      messageResponse = files([index.fileOfSymbol(m.value)], `symbol ${m.value}`);
      break;
    case "fileContainingExtension":
      messageResponse = files(
        [index.fileOfExtension(m.value.containingType, m.value.extensionNumber)],
        `extension ${m.value.extensionNumber} of ${m.value.containingType}`,
      );
      break;
    case "allExtensionNumbersOfType": {
      const numbers = index.extensionNumbers(m.value);
      messageResponse =
        numbers === undefined
          ? { case: "errorResponse" as const, value: { errorCode: 5, errorMessage: `type ${m.value} not found` } }
          : {
              case: "allExtensionNumbersResponse" as const,
              value: { baseTypeName: m.value, extensionNumber: numbers },
            };
      break;
    }
    default:
      messageResponse = {
        case: "errorResponse" as const,
        value: { errorCode: 12, errorMessage: "unsupported reflection request" },
      };
  }
  // The v1 and v1alpha schemas are structurally identical; only their type names differ.
  return create(v.ServerReflectionResponseSchema as typeof v1.ServerReflectionResponseSchema, {
    ...base,
    originalRequest: req as v1.ServerReflectionRequest,
    messageResponse,
  });
}

/**
 * Registers grpc.reflection.v1 and v1alpha ServerReflection on a router, answering each call from
 * the index `indexFor` gives for it (the caller's own view: see server.ts).
 */
export function reflectionRoutes(router: ConnectRouter, indexFor: (ctx: HandlerContext) => ReflectionIndex): void {
  for (const v of [v1, v1alpha] as const) {
    router.service(v.ServerReflection as typeof v1.ServerReflection, {
      async *serverReflectionInfo(requests, ctx) {
        const index = indexFor(ctx);
        for await (const req of requests) yield answer(index, v, req);
      },
    });
  }
}
