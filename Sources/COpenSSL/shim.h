// The OpenSSL calls of the trust store (Sources/HandoffCore/Transport/TrustStore.swift).
#ifndef HANDOFF_OPENSSL_SHIM_H
#define HANDOFF_OPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/err.h>
#include <openssl/pem.h>

/* Adds every certificate and CRL of a PEM buffer to store, as
 * X509_STORE_load_file() does for a file, but from memory: OpenSSL never
 * opens a path (a FIFO there would block it forever). Returns the number of
 * certificates added, 0 when the buffer holds none or is not PEM. Here in C
 * because the STACK_OF accessors are macros Swift cannot call. */
static inline int handoff_x509_store_add_pem(X509_STORE *store, const void *bytes, int length) {
  BIO *bio;
  STACK_OF(X509_INFO) *infos;
  int i, added = 0;
  if (store == NULL || bytes == NULL || length <= 0) return 0;
  bio = BIO_new_mem_buf(bytes, length);
  if (bio == NULL) return 0;
  infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
  BIO_free(bio);
  if (infos == NULL) return 0;
  for (i = 0; i < sk_X509_INFO_num(infos); i++) {
    X509_INFO *info = sk_X509_INFO_value(infos, i);
    if (info->x509 != NULL && X509_STORE_add_cert(store, info->x509) == 1) added++;
    if (info->crl != NULL) X509_STORE_add_crl(store, info->crl);
  }
  sk_X509_INFO_pop_free(infos, X509_INFO_free);
  return added;
}
#endif
