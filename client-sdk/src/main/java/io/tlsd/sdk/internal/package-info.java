/**
 * The implementation of the tlsd SDK: the IPC session, its framing and the operation handles. Not a
 * public API: its public types exist only for {@code io.tlsd.sdk} and the tlsd daemon and may
 * change at any time.
 */
package io.tlsd.sdk.internal;
