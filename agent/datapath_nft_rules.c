// SPDX-License-Identifier: Apache-2.0
/*
 * The rules of table inet mseg, as nf_tables expressions. They are written the way nft itself
 * linearises the equivalent source (the same registers, dependencies and byteorder steps), so
 * that `nft list table inet mseg` prints them back as readable rules. The rule count is fixed
 * per chain: what grows with policies is map elements, never rules.
 */
#include "agent/datapath_nft.h"

#include <errno.h>
#include <linux/if_arp.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_common.h>
#include <linux/netfilter/nf_tables.h>
#include <stdio.h>
#include <string.h>

#include <libmnl/libmnl.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/udata.h>

#include "bpf/abi.h"

#define CT_DIR_REPLY 1 /* enum ip_conntrack_dir, not in the UAPI headers */

static struct nftnl_rule *rule_new(const char *comment)
{
	struct nftnl_rule *rl = nftnl_rule_alloc();

	if (!rl)
		return NULL;
	nftnl_rule_set_str(rl, NFTNL_RULE_TABLE, MSEG_NFT_TABLE);
	if (comment) {
		struct nftnl_udata_buf *u = nftnl_udata_buf_alloc(NFT_USERDATA_MAXLEN);
		char c[NFTNL_UDATA_COMMENT_MAXLEN];

		if (!u) {
			nftnl_rule_free(rl);
			return NULL;
		}
		snprintf(c, sizeof(c), "%s", comment);
		nftnl_udata_put_strz(u, NFTNL_UDATA_RULE_COMMENT, c);
		nftnl_rule_set_data(rl, NFTNL_RULE_USERDATA, nftnl_udata_buf_data(u),
				    nftnl_udata_buf_len(u));
		nftnl_udata_buf_free(u);
	}
	return rl;
}

/* Expression helpers: each returns false on allocation failure, which the caller turns into
 * -ENOMEM once for the whole rule. */
static bool add(struct nftnl_rule *rl, struct nftnl_expr *e)
{
	if (!e)
		return false;
	nftnl_rule_add_expr(rl, e);
	return true;
}

static bool meta(struct nftnl_rule *rl, uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	}
	return add(rl, e);
}

static bool cmp(struct nftnl_rule *rl, uint32_t op, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return add(rl, e);
}

static bool cmp_u8(struct nftnl_rule *rl, uint32_t op, uint8_t v)
{
	return cmp(rl, op, &v, 1);
}

static bool payload(struct nftnl_rule *rl, uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	}
	return add(rl, e);
}

/* What nft emits after loading l4proto into a concatenation register. */
static bool hton_proto(struct nftnl_rule *rl, uint32_t reg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("byteorder");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, reg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, reg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP, NFT_BYTEORDER_HTON);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, 1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, 2);
	}
	return add(rl, e);
}

static bool lookup(struct nftnl_rule *rl, const char *set)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
	}
	return add(rl, e);
}

static bool verdict(struct nftnl_rule *rl, int v, const char *chain)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)v);
		if (chain)
			nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	}
	return add(rl, e);
}

static int append(struct mseg_nft_batch *b, struct nftnl_rule *rl, const char *chain, bool ok)
{
	int r = ok ? mseg_nft_batch_rule_append(b, rl, chain) : -ENOMEM;

	nftnl_rule_free(rl);
	return r;
}

/* iifname vmap @ep_out / oifname vmap @ep_in */
int mseg_nft_batch_rules_base(struct mseg_nft_batch *b, const char *chain, bool iif,
			      const char *map)
{
	struct nftnl_rule *rl = rule_new(NULL);
	bool ok;

	if (!rl)
		return -ENOMEM;
	ok = meta(rl, iif ? NFT_META_IIFNAME : NFT_META_OIFNAME, NFT_REG_1) && lookup(rl, map);
	return append(b, rl, chain, ok);
}

/* The remote address: the source of packets entering the endpoint, else the destination. */
static uint32_t remote_off(enum mseg_dir dir)
{
	return dir == MSEG_DIR_INGRESS ? 12 : 16;
}

static bool nfproto_ipv4(struct nftnl_rule *rl)
{
	return meta(rl, NFT_META_NFPROTO, NFT_REG_1) && cmp_u8(rl, NFT_CMP_EQ, NFPROTO_IPV4);
}

/* nft prints the ICMP rule's "icmp only" test away and its type.code load as th sport */
#define ICMP_COMMENT "ICMP only: th sport reads type . code, matched as port (type << 8 | code)"

/* [meta l4proto (==|!=) icmp] ip Xaddr . meta l4proto . (@th,0,16 | th dport) vmap @map */
static int rule_cls(struct mseg_nft_batch *b, const char *chain, enum mseg_dir dir, const char *map,
		    bool icmp)
{
	struct nftnl_rule *rl = rule_new(icmp ? ICMP_COMMENT : NULL);
	bool ok;

	if (!rl)
		return -ENOMEM;
	ok = meta(rl, NFT_META_L4PROTO, NFT_REG_1) &&
	     cmp_u8(rl, icmp ? NFT_CMP_EQ : NFT_CMP_NEQ, MSEG_PROTO_ICMP) && nfproto_ipv4(rl) &&
	     payload(rl, NFT_PAYLOAD_NETWORK_HEADER, remote_off(dir), 4, NFT_REG_1) &&
	     meta(rl, NFT_META_L4PROTO, NFT_REG32_01) && hton_proto(rl, NFT_REG32_01) &&
	     /* ICMP's "port" is type << 8 | code: the first two bytes of its header */
	     payload(rl, NFT_PAYLOAD_TRANSPORT_HEADER, icmp ? 0 : 2, 2, NFT_REG32_02) &&
	     lookup(rl, map);
	return append(b, rl, chain, ok);
}

/* ip Xaddr . meta l4proto vmap @map (entries for any protocol carry the range 0-255) */
static int rule_clsany(struct mseg_nft_batch *b, const char *chain, enum mseg_dir dir,
		       const char *map)
{
	struct nftnl_rule *rl = rule_new(NULL);
	bool ok;

	if (!rl)
		return -ENOMEM;
	ok = nfproto_ipv4(rl) &&
	     payload(rl, NFT_PAYLOAD_NETWORK_HEADER, remote_off(dir), 4, NFT_REG_1) &&
	     meta(rl, NFT_META_L4PROTO, NFT_REG32_01) && hton_proto(rl, NFT_REG32_01) &&
	     lookup(rl, map);
	return append(b, rl, chain, ok);
}

/* meta l4proto (==|!=) icmp meta l4proto . (@th,0,16 | th dport) vmap @map */
static int rule_any(struct mseg_nft_batch *b, const char *chain, const char *map, bool icmp)
{
	struct nftnl_rule *rl = rule_new(icmp ? ICMP_COMMENT : NULL);
	bool ok;

	if (!rl)
		return -ENOMEM;
	ok = meta(rl, NFT_META_L4PROTO, NFT_REG_1) &&
	     cmp_u8(rl, icmp ? NFT_CMP_EQ : NFT_CMP_NEQ, MSEG_PROTO_ICMP) &&
	     meta(rl, NFT_META_L4PROTO, NFT_REG_1) && hton_proto(rl, NFT_REG_1) &&
	     payload(rl, NFT_PAYLOAD_TRANSPORT_HEADER, icmp ? 0 : 2, 2, NFT_REG32_01) &&
	     lookup(rl, map);
	return append(b, rl, chain, ok);
}

/* meta nfproto vmap @map */
static int rule_rest(struct mseg_nft_batch *b, const char *chain, const char *map)
{
	struct nftnl_rule *rl = rule_new(NULL);
	bool ok;

	if (!rl)
		return -ENOMEM;
	ok = meta(rl, NFT_META_NFPROTO, NFT_REG_1) && lookup(rl, map);
	return append(b, rl, chain, ok);
}

int mseg_nft_batch_rules_endpoint(struct mseg_nft_batch *b, const char *chain, enum mseg_dir dir,
				  const struct mseg_dp_endpoint *ep, const char *spoof_mac,
				  const char *spoof_ip, const char *nonip_chain)
{
	char map[MSEG_NFT_NAME_MAX];
	struct nftnl_rule *rl;
	int r;
	bool ok;

	/* Endpoints are IPv4 only (DESIGN.md §3): anything else leaving or entering one is
	 * dropped, because the address lookups below would let it through unchecked. */
	rl = rule_new("endpoints speak IPv4 only");
	if (!rl)
		return -ENOMEM;
	ok = meta(rl, NFT_META_NFPROTO, NFT_REG_1) && cmp_u8(rl, NFT_CMP_NEQ, NFPROTO_IPV4) &&
	     verdict(rl, NFT_GOTO, nonip_chain);
	r = append(b, rl, chain, ok);
	if (r < 0)
		return r;

	if (dir == MSEG_DIR_EGRESS) {
		uint16_t ether = ARPHRD_ETHER;
		uint8_t ip[4];
		char c[NFTNL_UDATA_COMMENT_MAXLEN + 64];

		if (!ep || !spoof_mac || !spoof_ip)
			return -EINVAL;
		snprintf(c, sizeof(c), "anti-spoofing: source MAC of %s/%s", ep->namespace,
			 ep->name);
		rl = rule_new(c);
		if (!rl)
			return -ENOMEM;
		ok = meta(rl, NFT_META_IIFTYPE, NFT_REG_1) && cmp(rl, NFT_CMP_EQ, &ether, 2) &&
		     payload(rl, NFT_PAYLOAD_LL_HEADER, 6, 6, NFT_REG_1) &&
		     cmp(rl, NFT_CMP_NEQ, ep->mac, 6) && verdict(rl, NFT_GOTO, spoof_mac);
		r = append(b, rl, chain, ok);
		if (r < 0)
			return r;

		snprintf(c, sizeof(c), "anti-spoofing: source IP of %s/%s", ep->namespace,
			 ep->name);
		rl = rule_new(c);
		if (!rl)
			return -ENOMEM;
		memcpy(ip, ep->ip.addr, 4);
		ok = nfproto_ipv4(rl) &&
		     payload(rl, NFT_PAYLOAD_NETWORK_HEADER, 12, 4, NFT_REG_1) &&
		     cmp(rl, NFT_CMP_NEQ, ip, 4) && verdict(rl, NFT_GOTO, spoof_ip);
		r = append(b, rl, chain, ok);
		if (r < 0)
			return r;
	}

	/* Replies of connections conntrack confirmed, i.e. whose first packet passed every
	 * check; everything else meets the current policy below. */
	rl = rule_new(NULL);
	if (!rl)
		return -ENOMEM;
	struct nftnl_expr *e = nftnl_expr_alloc("ct");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_DIRECTION);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	}
	ok = add(rl, e) && cmp_u8(rl, NFT_CMP_EQ, CT_DIR_REPLY) && verdict(rl, NFT_RETURN, NULL);
	r = append(b, rl, chain, ok);
	if (r < 0)
		return r;

	snprintf(map, sizeof(map), "%s_cls", chain);
	r = rule_cls(b, chain, dir, map, true);
	if (r == 0)
		r = rule_cls(b, chain, dir, map, false);
	snprintf(map, sizeof(map), "%s_clsany", chain);
	if (r == 0)
		r = rule_clsany(b, chain, dir, map);
	snprintf(map, sizeof(map), "%s_any", chain);
	if (r == 0)
		r = rule_any(b, chain, map, true);
	if (r == 0)
		r = rule_any(b, chain, map, false);
	snprintf(map, sizeof(map), "%s_rest", chain);
	if (r == 0)
		r = rule_rest(b, chain, map);
	return r;
}

static bool log_expr(struct nftnl_rule *rl, const char *prefix, uint32_t nflog_group)
{
	struct nftnl_expr *e = nftnl_expr_alloc("log");

	if (e) {
		nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, prefix);
		nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, (uint16_t)nflog_group);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOG_SNAPLEN, MSEG_NFT_SNAPLEN);
		nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_QTHRESHOLD, 0);
	}
	return add(rl, e);
}

static bool counter_ref(struct nftnl_rule *rl, const char *name)
{
	struct nftnl_expr *e = nftnl_expr_alloc("objref");

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_OBJREF_IMM_TYPE, NFT_OBJECT_COUNTER);
		nftnl_expr_set_str(e, NFTNL_EXPR_OBJREF_IMM_NAME, name);
	}
	return add(rl, e);
}

/* ct state new: as nft linearises it (the state bit of IP_CT_NEW, tested for non-zero) */
static bool ct_state_new(struct nftnl_rule *rl)
{
	struct nftnl_expr *e = nftnl_expr_alloc("ct");
	uint32_t mask = 1u << (IP_CT_NEW + 1), zero = 0;

	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_KEY, NFT_CT_STATE);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CT_DREG, NFT_REG_1);
	}
	if (!add(rl, e))
		return false;
	e = nftnl_expr_alloc("bitwise");
	if (e) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 4);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, 4);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, 4);
	}
	return add(rl, e) && cmp(rl, NFT_CMP_NEQ, &zero, 4);
}

/*
 * counter name "<chain>" [log group N snaplen S prefix "mseg:..."] (return | drop), and with
 * flows, in front of a plain allow: ct state new counter name "<chain>" log ... "mseg:F:..."
 * return. The state test comes first so that every packet is counted exactly once.
 */
int mseg_nft_batch_rules_decision(struct mseg_nft_batch *b, const char *chain,
				  const struct mseg_nft_decision *d, uint32_t nflog_group,
				  bool flows)
{
	bool drop = d->special || d->verdict != MSEG_VERDICT_ALLOW;
	bool log = drop || d->audit;
	struct nftnl_rule *rl;
	char prefix[128];
	bool ok;
	int r;

	if (log || flows) {
		r = mseg_nft_log_prefix(prefix, sizeof(prefix), d);
		if (r < 0)
			return r;
	}
	if (flows && !log) {
		rl = rule_new("msegd --flows: the first packet of each allowed connection");
		if (!rl)
			return -ENOMEM;
		ok = ct_state_new(rl) && counter_ref(rl, chain) &&
		     log_expr(rl, prefix, nflog_group) && verdict(rl, NFT_RETURN, NULL);
		r = append(b, rl, chain, ok);
		if (r < 0)
			return r;
	}
	rl = rule_new(NULL);
	if (!rl)
		return -ENOMEM;
	ok = counter_ref(rl, chain) && (!log || log_expr(rl, prefix, nflog_group)) &&
	     verdict(rl, drop ? NF_DROP : NFT_RETURN, NULL);
	return append(b, rl, chain, ok);
}
