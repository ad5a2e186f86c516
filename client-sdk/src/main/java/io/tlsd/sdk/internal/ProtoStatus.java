package io.tlsd.sdk.internal;

import io.tlsd.sdk.Status;

/** Translates the wire status catalog into the SDK's; the two are kept name for name. */
final class ProtoStatus {
  private ProtoStatus() {}

  static Status toSdk(io.tlsd.proto.v1.Status status) {
    return switch (status) {
      case OK -> Status.OK;
      case EOF -> Status.EOF;
      case CANCELLED -> Status.CANCELLED;
      case TIMED_OUT -> Status.TIMED_OUT;
      case CLOSED -> Status.CLOSED;
      case CONNECT_FAILED -> Status.CONNECT_FAILED;
      case HANDSHAKE_FAILED -> Status.HANDSHAKE_FAILED;
      case CERT_INVALID -> Status.CERT_INVALID;
      case BAD_REQUEST -> Status.BAD_REQUEST;
      case LIMIT_EXCEEDED -> Status.LIMIT_EXCEEDED;
      case NOT_FOUND -> Status.NOT_FOUND;
      case UNAUTHORIZED -> Status.UNAUTHORIZED;
      case TOO_LATE -> Status.TOO_LATE;
      case CONNECTION_RESET -> Status.CONNECTION_RESET;
      case UNAVAILABLE -> Status.UNAVAILABLE;
      case INTERNAL -> Status.INTERNAL;
      // A status added to the proto after this SDK was built: nothing more specific is known.
      case UNRECOGNIZED -> Status.INTERNAL;
    };
  }
}
