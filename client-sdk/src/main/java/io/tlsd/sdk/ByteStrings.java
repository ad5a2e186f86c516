package io.tlsd.sdk;

import com.google.protobuf.ByteOutput;
import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;

/** Turns the {@code bytes} fields of completions into arrays for the caller without a copy. */
final class ByteStrings {
  private ByteStrings() {}

  /**
   * Returns the content of {@code bytes} as an array the caller may keep and change: the array the
   * byte string wraps when it wraps exactly one whole array, otherwise a copy.
   *
   * <p>Only for byte strings that nobody else uses: the SDK parses every message from the daemon
   * without aliasing (see {@code FrameChannel.read}), so each {@code bytes} field of it owns a
   * fresh array of exactly its size, and the completion it came from is dropped once decoded. A
   * byte string that aliases a larger buffer never wraps that whole buffer and is copied.
   */
  static byte[] detach(ByteString bytes) {
    if (bytes.isEmpty()) {
      // Every empty byte string wraps one shared array.
      return new byte[0];
    }
    WholeArray whole = new WholeArray();
    try {
      UnsafeByteOperations.unsafeWriteTo(bytes, whole);
    } catch (IOException e) {
      // WholeArray throws nothing; a byte string only passes on its output's exceptions.
      throw new UncheckedIOException(e);
    }
    return whole.array != null ? whole.array : bytes.toByteArray();
  }

  /** Records the array a byte string hands over, if it hands over exactly one whole array. */
  private static final class WholeArray extends ByteOutput {
    byte[] array;
    private boolean partial;

    @Override
    public void write(byte value) {
      reject();
    }

    @Override
    public void write(byte[] value, int offset, int length) {
      reject();
    }

    @Override
    public void writeLazy(byte[] value, int offset, int length) {
      if (partial || array != null || offset != 0 || length != value.length) {
        reject();
      } else {
        array = value;
      }
    }

    @Override
    public void write(ByteBuffer value) {
      reject();
    }

    @Override
    public void writeLazy(ByteBuffer value) {
      reject();
    }

    private void reject() {
      partial = true;
      array = null;
    }
  }
}
