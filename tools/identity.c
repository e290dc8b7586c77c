/* identity.c */
#include "identity.h"
int certpin_identity_placeholder;
