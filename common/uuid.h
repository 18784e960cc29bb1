/* UUID text helpers (canonical 8-4-4-4-12 hexadecimal form). */
#ifndef EVG_UUID_H
#define EVG_UUID_H

#define UUID_STR_LEN	36

/* True if s is a canonical UUID (either case). */
int	uuid_valid(const char *);
/* Write a random (version 4) UUID, lower case, into out[UUID_STR_LEN+1]. */
void	uuid_generate_v4(char *);

#endif
