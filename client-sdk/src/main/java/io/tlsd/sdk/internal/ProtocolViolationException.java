package io.tlsd.sdk.internal;

import java.io.IOException;

/**
 * The daemon's byte stream can no longer be trusted (oversized or unparseable frame, message out of
 * place). Kept apart from plain I/O failures because it means a bug, not a lost daemon.
 */
final class ProtocolViolationException extends IOException {
  private static final long serialVersionUID = 1L;

  ProtocolViolationException(String message) {
    super(message);
  }
}
