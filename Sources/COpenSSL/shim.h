// The OpenSSL calls of the trust store (Sources/HandoffCore/Transport/TrustStore.swift).
#ifndef HANDOFF_OPENSSL_SHIM_H
#define HANDOFF_OPENSSL_SHIM_H
#include <openssl/ssl.h>
#include <openssl/x509_vfy.h>
#include <openssl/err.h>
#endif
