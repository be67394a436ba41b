"""gRPC protocol: .proto sources and their stubs (made by `python -m mpcrec.proto.build`)."""
