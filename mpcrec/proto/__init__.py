"""gRPC protocol: .proto sources and the stubs generated from them by `python -m mpcrec.proto.build`."""
