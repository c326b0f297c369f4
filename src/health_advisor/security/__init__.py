"""Security and privacy: who may sign in, who may see which client, and the trail of it.

Used by the API (and the CLI for ``users add``); nothing here knows about HTTP.

    passwords   argon2id hashes and the password policy
    tokens      signed short-lived access tokens (JWT, HS256); refresh tokens stored
                hashed, rotated on use, revocable
    keys        the token-signing key (environment, or generated under ``./var``)
    ratelimit   login attempts per (username, address) and per address
    users       people who sign in: add, change, assign clients, authenticate, lock out
    apikeys     keys for machines (wearable bridges), stored hashed, scoped
    access      the principal, roles and object-level checks (which client is whose)
    consent     recorded consent per purpose (Ley 29733: express, written)
    audit       the audit log of every read and write of a client's data
    privacy     data-subject rights: export, rectify, erase
"""
