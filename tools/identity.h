/* identity.h */
#ifndef CERTPIN_IDENTITY_H
#define CERTPIN_IDENTITY_H
#endif
