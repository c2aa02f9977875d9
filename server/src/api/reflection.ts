import { type DescFile, type DescService, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import type { ServiceDefinition, UntypedServiceImplementation } from "@grpc/grpc-js";
import { ReflectionService } from "@grpc/reflection";
import type { GrpcService } from "./grpc-binding.js";

type ReflectionPackage = ConstructorParameters<typeof ReflectionService>[0];

/**
 * `grpc.reflection.v1` and `grpc.reflection.v1alpha` for the gRPC path, built from the
 * protobuf-es descriptors compiled into the SDK, so `grpcurl` and `buf curl` need no .proto
 * files. `extraFiles` adds serialized FileDescriptorProtos of services not written with
 * protobuf-es (grpc.health.v1).
 */
export function reflectionServices(
  services: readonly DescService[],
  extraFiles: readonly Uint8Array[] = [],
): GrpcService[] {
  const files = new Map<string, DescFile>();
  const visit = (file: DescFile): void => {
    if (files.has(file.name)) return;
    files.set(file.name, file);
    for (const dependency of file.dependencies) visit(dependency);
  };
  for (const service of services) visit(service.file);
  const fileDescriptorProtos = [
    ...[...files.values()].map((file) =>
      Buffer.from(toBinary(FileDescriptorProtoSchema, file.proto)),
    ),
    ...extraFiles.map((bytes) => Buffer.from(bytes)),
  ];
  // @grpc/reflection reads only `fileDescriptorProtos` from each entry of the package.
  const pkg = {
    files: { format: "Protocol Buffer 3 FileDescriptorProto", type: {}, fileDescriptorProtos },
  } as unknown as ReflectionPackage;
  const registrations: GrpcService[] = [];
  new ReflectionService(pkg).addToServer({
    addService: (definition: ServiceDefinition, implementation: UntypedServiceImplementation) => {
      registrations.push({ definition, implementation });
    },
  });
  return registrations;
}
