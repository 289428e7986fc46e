/** The release, stamped on injected pods (`tokenwarden.dev/injected`); equals package.json's version (tested). */
export const RELEASE_VERSION = '0.1.0';
