/**
 * The official Keras ImageNet weight files for ResNet50: one source of truth for their names,
 * download URLs, hashes and sizes.
 *
 * Verified against keras-team/keras `keras/src/applications/resnet.py` (BASE_WEIGHTS_PATH,
 * WEIGHTS_HASHES["resnet50"], file names `model_name + "_weights_tf_dim_ordering_tf_kernels[_notop].h5"`).
 * Keras passes these hashes to `get_file(file_hash=...)` with `hash_algorithm="auto"`, which
 * (`resolve_hasher` in `keras/src/utils/file_utils.py`) picks SHA-256 only for 64-hex-digit hashes
 * and MD5 otherwise: these 32-digit hashes are MD5.
 */

/** Hash algorithms we can verify a download with. */
export type HashAlgorithm = 'md5' | 'sha256';

/** An expected content hash: the algorithm and its lowercase hex digest. */
export interface ExpectedHash {
  readonly algorithm: HashAlgorithm;
  readonly hex: string;
}

/** A downloadable weights file: where it comes from and how to recognise it. */
export interface WeightsFile {
  /** Exact file name, used both in the URL and in the cache directory. */
  readonly fileName: string;
  /** Official download URL. */
  readonly url: string;
  /** Hash of the complete file. */
  readonly hash: ExpectedHash;
  /** Size in bytes, when known from a reliable source (a cheap pre-check before hashing). */
  readonly sizeBytes?: number;
}

/** `top`: with the 1000-class classifier; `notop`: convolutional base only. */
export type ImageNetVariant = 'top' | 'notop';

/** Keras' download base for the ResNet family (the URL may redirect). */
/** Environment variable replacing {@link KERAS_RESNET_BASE_URL} (a mirror, or a local server in tests). */
export const WEIGHTS_URL_ENV = 'RESNET_LRP_WEIGHTS_URL';

export const KERAS_RESNET_BASE_URL = 'https://storage.googleapis.com/tensorflow/keras-applications/resnet/';

/** File names Keras uses for ResNet50 ImageNet weights. */
export const RESNET50_FILE_NAMES: Readonly<Record<ImageNetVariant, string>> = {
  top: 'resnet50_weights_tf_dim_ordering_tf_kernels.h5',
  notop: 'resnet50_weights_tf_dim_ordering_tf_kernels_notop.h5',
};

/** MD5 hashes from Keras' `WEIGHTS_HASHES["resnet50"]` (top, notop). */
export const RESNET50_MD5: Readonly<Record<ImageNetVariant, string>> = {
  top: '2cb95161c43110f7111970584f804107',
  notop: '4d473c1dd8becc155b73f8504c6f6626',
};

/**
 * Sizes in bytes, as reported by Keras 3's own download progress bar (`received/total`, the
 * Content-Length) for the storage.googleapis.com URLs in several independent public logs.
 * (The often-quoted 102,853,048 belongs to the older fchollet/deep-learning-models v0.2 file,
 * which has a different MD5 and layer names: not this file.)
 */
export const RESNET50_SIZES: Readonly<Record<ImageNetVariant, number>> = {
  top: 102_967_424,
  notop: 94_765_736,
};

/**
 * The ResNet50 ImageNet weights file for `variant`; `baseUrl` replaces Keras' download base
 * (a mirror, or a local server in tests); a missing trailing `/` is added.
 */
export function resnet50WeightsFile(variant: ImageNetVariant = 'top', baseUrl: string = KERAS_RESNET_BASE_URL): WeightsFile {
  const fileName = RESNET50_FILE_NAMES[variant];
  if (fileName === undefined) throw new Error(`Unknown ResNet50 weights variant "${String(variant)}" (expected "top" or "notop")`);
  return {
    fileName,
    // Without the trailing slash, URL resolution would drop the last path segment of the base.
    url: new URL(fileName, baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`).href,
    hash: { algorithm: 'md5', hex: RESNET50_MD5[variant] },
    sizeBytes: RESNET50_SIZES[variant],
  };
}
