import { fromBinary, toBinary } from "@bufbuild/protobuf";
import {
  type DescriptorProto,
  type FileDescriptorProto,
  FileDescriptorProtoSchema,
} from "@bufbuild/protobuf/wkt";
import type { ServiceDefinition, UntypedServiceImplementation } from "@grpc/grpc-js";
import { HealthImplementation, service as healthService } from "grpc-health-check";
import type { GrpcService } from "./grpc-binding.js";

/** The standard `grpc.health.v1.Health` service (`Check` and `Watch`). */
export interface GrpcHealth {
  /** The service to register on the gRPC path. */
  readonly registration: GrpcService;
  /**
   * Sets the status of the whole server (`""`) and of each named service; `Watch` streams
   * see every change.
   */
  setServing(serving: boolean): void;
}

/** grpc/health/v1/health.proto as grpc-health-check serves it, serialized for reflection. */
export const healthFileDescriptorProtos: readonly Uint8Array[] = (
  (healthService.Check?.requestType as { fileDescriptorProtos?: Buffer[] } | undefined)
    ?.fileDescriptorProtos ?? []
).map((bytes) =>
  toBinary(FileDescriptorProtoSchema, canonical(fromBinary(FileDescriptorProtoSchema, bytes))),
);

/**
 * proto-loader (protobufjs) writes descriptors protoc would not: type names relative to their
 * scope and map entries not named `<Field>Entry`. Go's protodesc, which `buf curl` and
 * `grpcurl` use, refuses such a file; this rewrites it as protoc would.
 */
function canonical(file: FileDescriptorProto): FileDescriptorProto {
  file.name = `${file.package.replaceAll(".", "/")}/health.proto`;
  const known = new Set<string>();
  const collect = (scope: string, messages: DescriptorProto[]) => {
    for (const message of messages) {
      for (const field of message.field) {
        const entry = message.nestedType.find(
          (n) => n.options?.mapEntry === true && n.name === field.typeName,
        );
        if (entry !== undefined) {
          entry.name = `${field.jsonName || camel(field.name)}Entry`.replace(/^./, (c) =>
            c.toUpperCase(),
          );
          field.typeName = entry.name;
        }
      }
      const name = `${scope}.${message.name}`;
      known.add(name);
      for (const e of message.enumType) known.add(`${name}.${e.name}`);
      collect(name, message.nestedType);
    }
  };
  const root = `.${file.package}`;
  for (const e of file.enumType) known.add(`${root}.${e.name}`);
  collect(root, file.messageType);
  const qualify = (scope: string, messages: DescriptorProto[]) => {
    for (const message of messages) {
      const name = `${scope}.${message.name}`;
      for (const field of message.field) {
        if (field.typeName === "" || field.typeName.startsWith(".")) continue;
        for (let s = name; s !== ""; s = s.slice(0, s.lastIndexOf("."))) {
          if (known.has(`${s}.${field.typeName}`)) {
            field.typeName = `${s}.${field.typeName}`;
            break;
          }
        }
      }
      qualify(name, message.nestedType);
    }
  };
  qualify(root, file.messageType);
  return file;
}

function camel(name: string): string {
  return name.replace(/_(.)/g, (_, c: string) => c.toUpperCase());
}

/** `services` are the fully qualified names a client may ask about besides `""`. */
export function createGrpcHealth(services: readonly string[], serving: boolean): GrpcHealth {
  const names = ["", ...services];
  const status = serving ? "SERVING" : "NOT_SERVING";
  const health = new HealthImplementation(Object.fromEntries(names.map((name) => [name, status])));
  let registration: GrpcService | undefined;
  health.addToServer({
    addService: (definition: ServiceDefinition, implementation: UntypedServiceImplementation) => {
      registration = { definition, implementation };
    },
  });
  if (registration === undefined) throw new Error("grpc-health-check registered no service");
  let current = serving;
  return {
    registration,
    setServing(next) {
      if (next === current) return;
      current = next;
      for (const name of names) health.setStatus(name, next ? "SERVING" : "NOT_SERVING");
    },
  };
}
