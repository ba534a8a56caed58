# 平凉 2023 (policies/pingliang-2023.zc, 二.1–二.4 and 二.7): who files, reviews or approves
# what, as one Rego decision, for bench/peers.py. Each `decision` rule is one row of the case
# analysis below; the rows never overlap, so at most one gives the decision.
#
# Input: the validated facts. subject and one_matter_one_discussion always come (their schema
# defaults); land_use, investment_wan and park_level may be missing, and where a missing fact
# would decide, the answer is "undetermined" — or, where every value it could take leads to the
# same outcome by different paths, that outcome with no path yet (zhengce's verdict then).
package pingliang

import rego.v1

given(field) if field in object.keys(input)

land := "unknown" if not given("land_use")

land := "new_land" if input.land_use == "new_land"

land := "other" if {
	given("land_use")
	input.land_use != "new_land"
}

# 二.4: 投资额度在1000万元以上 (以上 includes 1000).
amount := "unknown" if not given("investment_wan")

amount := "1000+" if input.investment_wan >= 1000

amount := "under 1000" if input.investment_wan < 1000

level := "unknown" if not given("park_level")

level := "provincial" if input.park_level == "provincial"

level := "other" if {
	given("park_level")
	input.park_level != "provincial"
}

omod := input.one_matter_one_discussion

project if input.subject == "project"

park := ["所在工业园区(高新区、集中区)", "报送"]

filed := ["市园区办", "备案"]

land_path := [park, ["市园区办", "汇总"], ["市工业园区(集中区)领导小组", "研究分析、论证指导"]]

one_matter := [["市工业园区(集中区)领导小组", "研究论证"], ["市政府常务会", "审定"]]

plan_path := [
	["相关县(市、区)人民政府", "审核"],
	["市工业园区(集中区)建设领导小组", "审核把关、组织评审"],
	["市人民政府", "审批"],
]

default decision := {"outcome": "none", "steps": []}

# 二.1
decision := {"outcome": "file", "steps": [park, filed]} if input.subject == "park_policy"

# 二.2
decision := {"outcome": "approve", "steps": array.concat(plan_path, [["省开发区领导小组办公室", "备案"]])} if {
	input.subject == "park_plan"
	level == "provincial"
}

decision := {"outcome": "approve", "steps": plan_path} if {
	input.subject == "park_plan"
	level == "other"
}

decision := {"outcome": "approve", "steps": []} if {
	input.subject == "park_plan"
	level == "unknown"
}

# 二.3
decision := {"outcome": "approve", "steps": [
	["工业园区(高新区、集中区)", "按年度制定"],
	["所在县(市、区)人民政府", "审核"],
	["市园区办", "汇总初审"],
	["市工业园区(集中区)领导小组", "审定"],
]} if input.subject == "infrastructure_plan"

# 二.7: steps without an outcome
decision := {"outcome": "none", "steps": [
	["县(市、区)", "留存75%的计划指标"],
	["市工业园区(集中区)领导小组", "统一管理25%的计划指标"],
]} if input.subject == "planning_quota"

# 二.4: 供地类 (new_land) and 非供地类 (every other land use), with and without 一事一议
decision := {"outcome": "approve", "steps": array.concat(land_path, one_matter)} if {
	project
	land == "new_land"
	omod
}

decision := {"outcome": "approve", "steps": land_path} if {
	project
	land == "new_land"
	not omod
}

decision := {"outcome": "approve", "steps": array.concat([park, filed], one_matter)} if {
	project
	land == "other"
	amount == "1000+"
	omod
}

decision := {"outcome": "approve", "steps": one_matter} if {
	project
	land == "other"
	amount == "under 1000"
	omod
}

decision := {"outcome": "file", "steps": [park, filed]} if {
	project
	land == "other"
	amount == "1000+"
	not omod
}

decision := {"outcome": "undetermined", "steps": []} if {
	project
	land == "other"
	amount == "unknown"
	not omod
}

decision := {"outcome": "approve", "steps": []} if {
	project
	land == "other"
	amount == "unknown"
	omod
}

decision := {"outcome": "undetermined", "steps": []} if {
	project
	land == "unknown"
	not omod
}

decision := {"outcome": "approve", "steps": []} if {
	project
	land == "unknown"
	omod
}
