// The part of noVNC's RFB API (docs/API.md of @novnc/novnc 1.7) the
// graphical console uses; the package ships no types.
declare module '@novnc/novnc' {
  export interface RfbOptions {
    /** Leave other viewers connected (default true). */
    shared?: boolean;
    credentials?: { username?: string; password?: string; target?: string };
    wsProtocols?: string[];
  }

  /**
   * What RFB accepts instead of a URL: a WebSocket, an RTCDataChannel, or
   * anything with their properties (core/websock.js checks them by name).
   */
  export interface RfbChannel {
    binaryType: string;
    protocol: string;
    readonly readyState: number | string;
    onopen: ((event: { type: string }) => void) | null;
    onmessage: ((event: { data: ArrayBuffer }) => void) | null;
    onclose: ((event: { code: number; reason: string; wasClean: boolean }) => void) | null;
    onerror: ((event: { type: string; message?: string }) => void) | null;
    send(data: Uint8Array): void;
    close(): void;
  }

  export default class RFB extends EventTarget {
    constructor(target: HTMLElement, urlOrChannel: string | RfbChannel, options?: RfbOptions);
    background: string;
    focusOnClick: boolean;
    resizeSession: boolean;
    scaleViewport: boolean;
    viewOnly: boolean;
    disconnect(): void;
    focus(options?: FocusOptions): void;
    getImageData(): ImageData;
    sendCtrlAltDel(): void;
  }
}
